// CHECKS: poll revents of one connection through its life: connected and
// idle, data queued, data read, peer FIN, then peer reset after the FIN
// (CLOSE_WAIT + RST gives EPIPE, not ECONNRESET).
// PEER: tcp 21300 wait:a send:data wait:b shutwr wait:c rst
// NORMALISED: nothing.
#include "trace.h"

#define P 21300
#define EV (POLLIN | POLLOUT | POLLRDHUP | POLLPRI)

static void show(const char *what, int fd)
{
	struct pollfd p = { .fd = fd, .events = EV };
	poll(&p, 1, 0);
	t_revents(what, p.revents);
}

int main(void)
{
	int fd = ct_connect(P);
	show("connected, idle", fd);
	ct_signal("a");
	ct_wait_bytes(fd, 4, 5000);
	show("4 bytes queued", fd);
	char buf[8];
	recv(fd, buf, sizeof buf, 0);
	show("after reading", fd);
	ct_signal("b");
	t_revents("after peer FIN", ct_wait_event(fd, EV, POLLRDHUP, 5000));
	T_CALL("recv", recv(fd, buf, sizeof buf, 0));
	show("after reading EOF", fd);
	ct_signal("c");
	// Wait for POLLHUP, not POLLERR: Linux's tcp_done_with_error sets
	// sk_err before tcp_done moves the socket to CLOSE, and this wait
	// polls every 2 ms (POLLIN is already set), so it could catch POLLERR
	// without POLLHUP in between (seen once under load, kernel side).
	t_revents("after peer RST", ct_wait_event(fd, EV, POLLHUP, 5000));
	t_log("SO_ERROR = %s", t_errname(ct_getint(fd, SOL_SOCKET, SO_ERROR)));
	show("after SO_ERROR", fd);
	return 0;
}
