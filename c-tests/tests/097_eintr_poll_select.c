// CHECKS: poll, select and epoll_wait on an idle socket are interrupted by
// a signal with EINTR even when the handler has SA_RESTART (Linux never
// restarts them).
// PEER: tcp 20970 wait:done
// NORMALISED: nothing.
#include "trace.h"
#include <sys/epoll.h>
#include <sys/select.h>

#define P 20970

static volatile sig_atomic_t hits;
static void on_alarm(int s) { (void)s; hits++; }

int main(void)
{
	ct_sigaction(SIGALRM, on_alarm, SA_RESTART);
	int fd = ct_connect(P);
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ct_alarm_ms(100);
	T_CALL("poll infinite", poll(&p, 1, -1));
	ct_alarm_ms(100);
	T_CALL("poll 5 s", poll(&p, 1, 5000));
	fd_set r;
	FD_ZERO(&r);
	FD_SET(fd, &r);
	ct_alarm_ms(100);
	T_CALL("select", select(fd + 1, &r, NULL, NULL, NULL));
	int ep = epoll_create1(0);
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd }, out;
	epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
	ct_alarm_ms(100);
	T_CALL("epoll_wait", epoll_wait(ep, &out, 1, -1));
	T_EQ("handler ran", hits, 4);
	ct_signal("done");
	return 0;
}
