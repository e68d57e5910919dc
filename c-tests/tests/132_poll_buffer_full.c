// CHECKS: POLLOUT disappears when the send path is full (peer not reading)
// and comes back once the peer drains it; select agrees.
// PEER: tcp 21320 rcvbuf:32768 wait:drain recvall
// NORMALISED: nothing (fill amounts are not printed).
#include "trace.h"
#include <sys/select.h>

#define P 21320

int main(void)
{
	int fd = ct_connect_small(P);
	ct_fill(fd);
	struct pollfd p = { .fd = fd, .events = POLLIN | POLLOUT };
	T_CALL("poll full", poll(&p, 1, 0));
	t_revents("  revents", p.revents);
	fd_set w;
	FD_ZERO(&w);
	FD_SET(fd, &w);
	struct timeval tv = { 0, 0 };
	T_CALL("select full", select(fd + 1, NULL, &w, NULL, &tv));
	ct_signal("drain");
	t_revents("poll until writable", ct_wait_event(fd, POLLIN | POLLOUT, POLLOUT, 5000));
	FD_ZERO(&w);
	FD_SET(fd, &w);
	T_CALL("select", select(fd + 1, NULL, &w, NULL, &tv));
	t_log("  writable: %d", FD_ISSET(fd, &w));
	return 0;
}
