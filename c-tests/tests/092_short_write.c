// CHECKS: a non-blocking send of 16 MiB to a peer that does not read returns
// a partial count (0 < n < 16 MiB), the next send EAGAIN; poll shows no
// POLLOUT while full.
// PEER: tcp 20920 rcvbuf:32768 wait:done
// NORMALISED: the partial count is printed only as a range check.
#include "trace.h"

#define P 20920

int main(void)
{
	int fd = ct_connect_small(P);
	ct_set_nonblock(fd, 1);
	static char buf[16 << 20];
	long n = send(fd, buf, sizeof buf, 0);
	t_log("first send partial (0 < n < 16 MiB): %s", n > 0 && n < (long)sizeof buf ? "yes" : "NO");
	ct_fill(fd);
	T_CALL("send", send(fd, buf, 100, 0));
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	T_CALL("poll POLLOUT", poll(&p, 1, 0));
	ct_signal("done");
	return 0;
}
