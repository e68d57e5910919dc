// CHECKS: a blocking recv interrupted by SIGALRM whose handler has no
// SA_RESTART fails with EINTR; the handler ran once; the connection is fine
// afterwards.
// PEER: tcp 20930 echo
// NORMALISED: nothing.
#include "trace.h"

#define P 20930

static volatile sig_atomic_t hits;
static void on_alarm(int s) { (void)s; hits++; }

int main(void)
{
	ct_sigaction(SIGALRM, on_alarm, 0);
	int fd = ct_connect(P);
	char buf[8];
	ct_alarm_ms(100);
	T_CALL("recv", recv(fd, buf, sizeof buf, 0));
	T_EQ("handler ran", hits, 1);
	ct_alarm_ms(100);
	T_CALL("read", read(fd, buf, sizeof buf));
	T_EQ("handler ran", hits, 2);
	ct_alarm_ms(100);
	struct iovec iov = { buf, sizeof buf };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	T_CALL("recvmsg", recvmsg(fd, &m, 0));
	T_EQ("handler ran", hits, 3);
	T_CALL("send", send(fd, "ok", 2, 0));
	long n = T_CALL("recv", recv(fd, buf, sizeof buf, 0));
	t_data("  data", buf, n);
	return 0;
}
