// CHECKS: EPOLLONESHOT reports once, then nothing although data is still
// unread, until EPOLL_CTL_MOD re-arms it.
// PEER: tcp 21530 send:x wait:done
// NORMALISED: nothing.
#include "trace.h"
#include <sys/epoll.h>

#define P 21530

int main(void)
{
	int fd = ct_connect(P);
	int ep = epoll_create1(0);
	struct epoll_event e = { .events = EPOLLIN | EPOLLONESHOT, .data.fd = fd }, out;
	epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
	T_CALL("epoll_wait", epoll_wait(ep, &out, 1, 5000));
	t_revents("  events", out.events);
	T_CALL("epoll_wait again (disarmed)", epoll_wait(ep, &out, 1, 100));
	T_CALL("EPOLL_CTL_MOD re-arm", epoll_ctl(ep, EPOLL_CTL_MOD, fd, &e));
	T_CALL("epoll_wait after re-arm", epoll_wait(ep, &out, 1, 0));
	T_CALL("epoll_wait again (disarmed)", epoll_wait(ep, &out, 1, 0));
	T_CALL("EPOLL_CTL_ADD again", epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e));
	ct_signal("done");
	return 0;
}
