// CHECKS: EADDRINUSE rules for TCP: a port held by a listener; SO_REUSEADDR
// does not help against a listener; two SO_REUSEADDR sockets may bind the
// same port while neither listens, but only one may listen; INADDR_ANY vs a
// specific address; UDP on the same number is independent.
// PEER: none
// NORMALISED: nothing.
#include "trace.h"

#define P 20080

static int sock_reuse(int reuse)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (reuse)
		ct_setint(fd, SOL_SOCKET, SO_REUSEADDR, 1);
	return fd;
}

static int do_bind(const char *what, int fd, const char *ip, unsigned port)
{
	struct sockaddr_in a = ct_addr(ip, port);
	return T_CALL(what, bind(fd, (struct sockaddr *)&a, sizeof a));
}

int main(void)
{
	int s1 = sock_reuse(0);
	do_bind("s1 bind 10.7.0.2:P", s1, SELF_IP, P);
	T_CALL("s1 listen", listen(s1, 5));
	do_bind("s2 bind 10.7.0.2:P", sock_reuse(0), SELF_IP, P);
	do_bind("s3 (REUSEADDR) bind 10.7.0.2:P", sock_reuse(1), SELF_IP, P);
	do_bind("s4 bind 0.0.0.0:P", sock_reuse(0), "0.0.0.0", P);
	do_bind("s5 (REUSEADDR) bind 0.0.0.0:P", sock_reuse(1), "0.0.0.0", P);

	int a = sock_reuse(1), b = sock_reuse(1);
	do_bind("a (REUSEADDR) bind P+1", a, SELF_IP, P + 1);
	do_bind("b (REUSEADDR) bind P+1", b, SELF_IP, P + 1);
	T_CALL("a listen", listen(a, 5));
	T_CALL("b listen", listen(b, 5));
	T_CALL("close a", close(a));
	T_CALL("b listen after a closed", listen(b, 5));

	int c = sock_reuse(0), d = sock_reuse(0);
	do_bind("c bind P+2 (no listen)", c, SELF_IP, P + 2);
	do_bind("d bind P+2", d, SELF_IP, P + 2);

	int e = sock_reuse(0), f = sock_reuse(0);
	do_bind("e bind 0.0.0.0:P+3", e, "0.0.0.0", P + 3);
	do_bind("f bind 10.7.0.2:P+3", f, SELF_IP, P + 3);

	int u = socket(AF_INET, SOCK_DGRAM, 0);
	do_bind("udp bind 10.7.0.2:P (tcp holds it)", u, SELF_IP, P);
	T_CALL("close s1", close(s1));
	int g = sock_reuse(0);
	do_bind("g bind P after listener closed", g, SELF_IP, P);
	return 0;
}
