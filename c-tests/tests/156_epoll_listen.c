// CHECKS: a listener in an epoll set reports EPOLLIN when a connection
// arrives, and stops once it is accepted; the accepted socket added to the
// same set reports the peer's data.
// PEER: connect 21565 after:go send:hi wait:done
// NORMALISED: nothing.
#include "trace.h"
#include <sys/epoll.h>

#define P 21565

int main(void)
{
	int l = ct_listen(P, 5);
	int ep = epoll_create1(0);
	struct epoll_event e = { .events = EPOLLIN, .data.u32 = 7 }, out;
	epoll_ctl(ep, EPOLL_CTL_ADD, l, &e);
	T_CALL("epoll_wait empty", epoll_wait(ep, &out, 1, 0));
	ct_signal("go");
	T_CALL("epoll_wait", epoll_wait(ep, &out, 1, 5000));
	t_log("  data %u events %s", out.data.u32, t_pollstr(out.events));
	int c = T_CALL("accept", accept(l, NULL, NULL));
	T_CALL("epoll_wait after accept", epoll_wait(ep, &out, 1, 0));
	e.data.u32 = 8;
	epoll_ctl(ep, EPOLL_CTL_ADD, c, &e);
	T_CALL("epoll_wait for data", epoll_wait(ep, &out, 1, 5000));
	t_log("  data %u events %s", out.data.u32, t_pollstr(out.events));
	ct_signal("done");
	return 0;
}
