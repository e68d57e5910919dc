// CHECKS: SO_RCVTIMEO on a UDP socket: recvfrom fails with EAGAIN after at
// least the timeout; an interrupted one (no SA_RESTART) fails with EINTR.
// PEER: none
// NORMALISED: durations print only as ">= timeout: yes".
#include "trace.h"

static volatile sig_atomic_t hits;
static void on_alarm(int s) { (void)s; hits++; }

int main(void)
{
	int fd = ct_udp(21030);
	struct timeval tv = { 0, 150000 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	char buf[8];
	long long t0 = ct_now_us();
	T_CALL("recvfrom", recvfrom(fd, buf, sizeof buf, 0, NULL, NULL));
	t_waited("recvfrom", t0, 150);
	ct_sigaction(SIGALRM, on_alarm, 0);
	tv.tv_sec = 5;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	ct_alarm_ms(100);
	T_CALL("recvfrom interrupted", recvfrom(fd, buf, sizeof buf, 0, NULL, NULL));
	T_EQ("handler ran", hits, 1);
	ct_sigaction(SIGALRM, on_alarm, 0);
	tv.tv_sec = 0;
	tv.tv_usec = 0;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	ct_alarm_ms(100);
	T_CALL("recvfrom without timeout, interrupted", recvfrom(fd, buf, sizeof buf, 0, NULL, NULL));
	return 0;
}
