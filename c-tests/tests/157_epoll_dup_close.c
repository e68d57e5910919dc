// CHECKS: epoll registrations belong to the open file description: after
// closing the registered fd while a dup keeps the socket open, events are
// still reported (with the old data); after closing the dup too, none.
// PEER: tcp 21570 wait:a send:one wait:done
// NORMALISED: nothing.
#include "trace.h"
#include <sys/epoll.h>

#define P 21570

int main(void)
{
	int fd = ct_connect(P);
	int d = dup(fd);
	int ep = epoll_create1(0);
	struct epoll_event e = { .events = EPOLLIN, .data.u32 = 42 }, out;
	epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
	T_CALL("close registered fd", close(fd));
	ct_signal("a");
	T_CALL("epoll_wait", epoll_wait(ep, &out, 1, 5000));
	t_log("  data %u", out.data.u32);
	T_CALL("EPOLL_CTL_DEL via the dup", epoll_ctl(ep, EPOLL_CTL_DEL, d, NULL));
	T_CALL("close dup", close(d));
	T_CALL("epoll_wait after both closed", epoll_wait(ep, &out, 1, 0));
	ct_signal("done");
	return 0;
}
