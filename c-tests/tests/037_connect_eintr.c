// CHECKS: a blocking connect that hangs (SYNs dropped by the peer's full
// listen queue) is interrupted by SIGALRM (handler without SA_RESTART):
// EINTR; the handshake carries on, so a non-blocking connect now says
// EALREADY.
// PEER: tcp 20370 backlog:0 fill:1 noaccept
// NORMALISED: nothing.
#include "trace.h"

#define P 20370

static volatile sig_atomic_t hits;
static void on_alarm(int s) { (void)s; hits++; }

int main(void)
{
	ct_sigaction(SIGALRM, on_alarm, 0);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = ct_addr(PEER_IP, P);
	ct_alarm_ms(200);
	T_CALL("connect", connect(fd, (struct sockaddr *)&a, sizeof a));
	T_EQ("handler ran", hits, 1);
	ct_set_nonblock(fd, 1);
	T_CALL("connect non-blocking", connect(fd, (struct sockaddr *)&a, sizeof a));
	T_EQ("SO_ERROR", ct_getint(fd, SOL_SOCKET, SO_ERROR), 0);
	return 0;
}
