// CHECKS: SO_SNDTIMEO bounds a blocking connect: it returns EINPROGRESS
// (not ETIMEDOUT) after the timeout; a second blocking connect with the
// timeout returns EALREADY after the timeout.
// PEER: tcp 20380 backlog:0 fill:1 noaccept
// NORMALISED: durations print only as ">= timeout: yes".
#include "trace.h"

#define P 20380

int main(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct timeval tv = { 0, 300000 };
	T_CALL("setsockopt SO_SNDTIMEO 300 ms", setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv));
	struct sockaddr_in a = ct_addr(PEER_IP, P);
	long long t0 = ct_now_us();
	T_CALL("connect", connect(fd, (struct sockaddr *)&a, sizeof a));
	t_waited("connect", t0, 300);
	t0 = ct_now_us();
	T_CALL("connect again", connect(fd, (struct sockaddr *)&a, sizeof a));
	t_waited("connect again", t0, 300);
	return 0;
}
