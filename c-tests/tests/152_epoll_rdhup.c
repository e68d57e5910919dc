// CHECKS: EPOLLRDHUP is reported when the peer half-closes (with EPOLLIN);
// A can still send afterwards; EPOLLHUP|EPOLLERR after the peer's reset.
// PEER: tcp 21520 wait:a shutwr recv:5 signal:got wait:b rst
// NORMALISED: nothing.
#include "trace.h"
#include <sys/epoll.h>

#define P 21520

int main(void)
{
	int fd = ct_connect(P);
	int ep = epoll_create1(0);
	struct epoll_event e = { .events = EPOLLIN | EPOLLRDHUP, .data.fd = fd }, out;
	epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
	T_CALL("epoll_wait idle", epoll_wait(ep, &out, 1, 0));
	ct_signal("a");
	T_CALL("epoll_wait", epoll_wait(ep, &out, 1, 5000));
	t_revents("  events", out.events);
	T_CALL("send after peer half-close", send(fd, "still", 5, 0));
	ct_wait("got", 5000);
	ct_signal("b");
	ct_wait_event(fd, POLLIN, POLLERR, 5000);
	T_CALL("epoll_wait after reset", epoll_wait(ep, &out, 1, 0));
	t_revents("  events", out.events);
	return 0;
}
