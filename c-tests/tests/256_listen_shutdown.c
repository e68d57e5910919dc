// CHECKS: shutdown(SHUT_RD) of a listener on 127.0.0.1 stops it as Linux's
// inet_shutdown does, for clients of both stacks: SHUT_WR first has no
// effect (connect and accept work), then after SHUT_RD accept is EINVAL,
// the port stays bound (EADDRINUSE), a connect from this program and one
// from a process on kernel sockets are refused; listen() again serves both
// (SO_REUSEADDR: the connections before left TIME_WAITs on the port).
// PEER: none
// NORMALISED: nothing.
#include "kernel_side.h"

#define P 22560

static void connect_here(const char *what, int expect_accept, int l)
{
	int c = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = ct_addr("127.0.0.1", P);
	T_CALL(what, connect(c, (struct sockaddr *)&a, sizeof a));
	if (expect_accept) {
		int s = T_CALL("  accept", accept(l, NULL, NULL));
		if (s >= 0)
			close(s);
	}
	close(c);
}

static void connect_kernel(const char *what, int expect_accept, int l)
{
	int r;
	ks_t k = ks_start("dconnect", "127.0.0.1", P, 0, &r);
	if (expect_accept)
		ks_serve(what, l);
	t_log("%s: kernel client connect: %s", what, t_errname(ks_next(k)));
	ks_stop(k);
}

int main(int argc, char **argv)
{
	ks_main(argc, argv);
	int l = socket(AF_INET, SOCK_STREAM, 0);
	ct_setint(l, SOL_SOCKET, SO_REUSEADDR, 1);
	struct sockaddr_in a = ct_addr("127.0.0.1", P);
	T_CALL("bind", bind(l, (struct sockaddr *)&a, sizeof a));
	T_CALL("listen", listen(l, 4));
	T_CALL("shutdown SHUT_WR", shutdown(l, SHUT_WR));
	connect_here("connect after SHUT_WR", 1, l);
	connect_kernel("kernel-side accept after SHUT_WR", 1, l);
	T_CALL("shutdown SHUT_RD", shutdown(l, SHUT_RD));
	T_CALL("accept", accept(l, NULL, NULL));
	int l2 = socket(AF_INET, SOCK_STREAM, 0);
	T_CALL("bind the port again", bind(l2, (struct sockaddr *)&a, sizeof a));
	close(l2);
	connect_here("connect after SHUT_RD", 0, l);
	connect_kernel("after SHUT_RD", 0, l);
	T_CALL("listen again", listen(l, 4));
	connect_here("connect after listen again", 1, l);
	connect_kernel("kernel-side accept after listen again", 1, l);
	return 0;
}
