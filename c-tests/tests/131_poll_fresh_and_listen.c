// CHECKS: poll revents of sockets that are not connected: fresh TCP
// (POLLOUT|POLLHUP), bound TCP, listening with an empty queue (0), with a
// queued connection (POLLIN), after accepting it (0); fresh and bound UDP;
// select on the same.
// PEER: connect 21315 after:go wait:done
// NORMALISED: nothing.
#include "trace.h"
#include <sys/select.h>

#define P 21315
#define EV (POLLIN | POLLOUT | POLLRDHUP | POLLPRI)

static void show(const char *what, int fd)
{
	struct pollfd p = { .fd = fd, .events = EV };
	poll(&p, 1, 0);
	fd_set r, w, x;
	FD_ZERO(&r);
	FD_ZERO(&w);
	FD_ZERO(&x);
	FD_SET(fd, &r);
	FD_SET(fd, &w);
	FD_SET(fd, &x);
	struct timeval tv = { 0, 0 };
	int n = select(fd + 1, &r, &w, &x, &tv);
	t_log("%s: poll %s, select %d r%d w%d x%d", what, t_pollstr(p.revents), n,
	      FD_ISSET(fd, &r), FD_ISSET(fd, &w), FD_ISSET(fd, &x));
}

int main(void)
{
	int t = socket(AF_INET, SOCK_STREAM, 0);
	show("fresh tcp", t);
	struct sockaddr_in a = ct_addr(SELF_IP, P);
	bind(t, (struct sockaddr *)&a, sizeof a);
	show("bound tcp", t);
	listen(t, 5);
	show("listening, empty", t);
	ct_signal("go");
	ct_wait_event(t, POLLIN, POLLIN, 5000);
	show("listening, 1 queued", t);
	int c = accept(t, NULL, NULL);
	show("listening, after accept", t);
	show("accepted", c);
	int u = socket(AF_INET, SOCK_DGRAM, 0);
	show("fresh udp", u);
	struct sockaddr_in b = ct_addr(SELF_IP, P + 1);
	bind(u, (struct sockaddr *)&b, sizeof b);
	show("bound udp", u);
	ct_signal("done");
	return 0;
}
