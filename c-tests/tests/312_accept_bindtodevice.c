// CHECKS: a connection accepted on a listener bound to a device reads
// that binding back, as Linux's sk_clone copies sk_bound_dev_if:
// getsockopt SO_BINDTODEVICE gives the listener's device name and
// SO_BINDTOIFINDEX its index, by accept and by accept4; a listener bound
// to nothing gives connections bound to nothing (an empty name, 0).
// PEER: none
// NORMALISED: nothing.
#include "trace.h"

#define P 23120

#ifndef SO_BINDTOIFINDEX
#define SO_BINDTOIFINDEX 62
#endif

static void show(const char *what, int fd)
{
	char name[32];
	memset(name, 'x', sizeof name);
	socklen_t len = sizeof name;
	if (T_CALL(what, getsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, name, &len)) == 0)
		t_log("  SO_BINDTODEVICE len %u \"%.*s\"", len, (int)len, name);
	int idx = -1;
	len = sizeof idx;
	if (getsockopt(fd, SOL_SOCKET, SO_BINDTOIFINDEX, &idx, &len) == 0)
		t_log("  SO_BINDTOIFINDEX %d", idx);
	else
		t_log("  SO_BINDTOIFINDEX = -1 %s", t_errname(errno));
}

static void round_of(const char *dev, unsigned port, int use_accept4)
{
	int l = ct_socket(SOCK_STREAM);
	ct_setint(l, SOL_SOCKET, SO_REUSEADDR, 1);
	if (dev)
		T_CALL("listener: SO_BINDTODEVICE", setsockopt(l, SOL_SOCKET, SO_BINDTODEVICE, dev, strlen(dev)));
	struct sockaddr_in a = ct_addr("0.0.0.0", port);
	if (bind(l, (struct sockaddr *)&a, sizeof a) < 0 || listen(l, 4) < 0)
		ct_die("listen");
	int c = ct_socket(SOCK_STREAM);
	struct sockaddr_in to = ct_addr("127.0.0.1", port);
	T_CALL("connect 127.0.0.1", connect(c, (struct sockaddr *)&to, sizeof to));
	int s = use_accept4 ? accept4(l, NULL, NULL, SOCK_CLOEXEC) : accept(l, NULL, NULL);
	if (s < 0)
		ct_die("accept");
	show("listener", l);
	show(use_accept4 ? "accept4ed" : "accepted", s);
	show("connecting side", c);
	close(s);
	close(c);
	close(l);
}

int main(void)
{
	t_log("== listener bound to lo");
	round_of("lo", P + 5, 0);
	t_log("== again, accept4");
	round_of("lo", P + 6, 1);
	t_log("== listener bound to nothing");
	round_of(NULL, P + 7, 0);
	return 0;
}
