// CHECKS: EPIPE with SIGPIPE ignored (process survives, send is EPIPE) and
// with SIGPIPE blocked (send is EPIPE, the signal stays pending for the
// thread).
// PEER: tcp 21010 close
// NORMALISED: nothing.
#include "trace.h"

#define P 21010

static int broken(void)
{
	int fd = ct_connect(P);
	char c;
	recv(fd, &c, 1, 0);
	send(fd, "x", 1, MSG_NOSIGNAL);
	ct_wait_event(fd, POLLIN, POLLERR | POLLHUP, 5000);
	ct_getint(fd, SOL_SOCKET, SO_ERROR); // consume the reset's error: next send is EPIPE
	return fd;
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	int a = broken();
	T_CALL("send with SIGPIPE ignored", send(a, "x", 1, 0));
	signal(SIGPIPE, SIG_DFL);
	sigset_t s, pend;
	sigemptyset(&s);
	sigaddset(&s, SIGPIPE);
	sigprocmask(SIG_BLOCK, &s, NULL);
	int b = broken();
	T_CALL("send with SIGPIPE blocked", send(b, "x", 1, 0));
	sigpending(&pend);
	t_log("SIGPIPE pending: %s", sigismember(&pend, SIGPIPE) ? "yes" : "no");
	int sig = 0;
	struct timespec ts = { 0, 0 };
	sig = sigtimedwait(&s, NULL, &ts);
	t_log("sigtimedwait = %s", sig > 0 ? t_signame(sig) : t_errname(errno));
	return 0;
}
