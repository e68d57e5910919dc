// CHECKS: poll revents after A's own shutdown: SHUT_WR (still POLLOUT),
// SHUT_RD (POLLIN|POLLRDHUP), both (POLLHUP); on separate connections.
// PEER: tcp 21330 wait:done
// NORMALISED: nothing.
#include "trace.h"

#define P 21330
#define EV (POLLIN | POLLOUT | POLLRDHUP)

static void show(const char *what, int fd)
{
	struct pollfd p = { .fd = fd, .events = EV };
	poll(&p, 1, 0);
	t_revents(what, p.revents);
}

int main(void)
{
	int a = ct_connect(P), b = ct_connect(P), c = ct_connect(P);
	shutdown(a, SHUT_WR);
	show("after SHUT_WR", a);
	shutdown(b, SHUT_RD);
	show("after SHUT_RD", b);
	shutdown(c, SHUT_RDWR);
	show("after SHUT_RDWR", c);
	shutdown(a, SHUT_RD);
	show("after SHUT_WR then SHUT_RD", a);
	ct_signal("done");
	return 0;
}
