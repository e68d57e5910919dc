// CHECKS: TCP's SO_REUSEPORT fast path of a bind bucket once a later
// binder reset it (Linux's FASTREUSEPORT_STRICT, sk_reuseport_match): a
// bind with SO_REUSEPORT alone that the port's first user (SO_REUSEADDR
// only) would refuse is let in when its address matches the fast path's,
// and the match is one way: the fast path's own wildcard takes a specific
// address, but a new wildcard does not match a specific fast-path address.
// PEER: none
// NORMALISED: nothing.
#include "trace.h"

#define P 23700

static int bound(unsigned port, const char *addr, int reuse, int reuseport, const char *what)
{
	int s = ct_socket(SOCK_STREAM);
	if (reuse)
		ct_setint(s, SOL_SOCKET, SO_REUSEADDR, 1);
	if (reuseport)
		ct_setint(s, SOL_SOCKET, SO_REUSEPORT, 1);
	struct sockaddr_in a = ct_addr(addr, port);
	T_CALL(what, bind(s, (struct sockaddr *)&a, sizeof a));
	return s;
}

int main(void)
{
	t_log("-- fast path on 127.0.0.1");
	int a = bound(P, "0.0.0.0", 1, 0, "a: 0.0.0.0, SO_REUSEADDR");
	int b = bound(P, "127.0.0.1", 1, 1, "b: 127.0.0.1, SO_REUSEADDR + SO_REUSEPORT");
	int c = bound(P, "0.0.0.0", 0, 1, "c: 0.0.0.0, SO_REUSEPORT");
	int d = bound(P, "10.7.0.2", 0, 1, "d: 10.7.0.2, SO_REUSEPORT");
	int e = bound(P, "127.0.0.1", 0, 1, "e: 127.0.0.1, SO_REUSEPORT");
	close(a);
	close(b);
	close(c);
	close(d);
	close(e);

	t_log("-- fast path on 0.0.0.0");
	a = bound(P + 1, "127.0.0.1", 1, 0, "a: 127.0.0.1, SO_REUSEADDR");
	b = bound(P + 1, "0.0.0.0", 1, 1, "b: 0.0.0.0, SO_REUSEADDR + SO_REUSEPORT");
	c = bound(P + 1, "127.0.0.1", 0, 1, "c: 127.0.0.1, SO_REUSEPORT");
	d = bound(P + 1, "127.0.0.1", 0, 0, "d: 127.0.0.1, no option");
	close(a);
	close(b);
	close(c);
	close(d);
	return 0;
}
