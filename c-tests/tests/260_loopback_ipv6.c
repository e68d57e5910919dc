// CHECKS: loopback beside the kernel's stack for AF_INET6 sockets (issue
// 19 over IPv6): a connect to ::1, or to ::ffff:127.0.0.1, that only a
// process on kernel sockets serves reaches it (the socket becomes a kernel
// socket) and carries data; with no listener anywhere it is refused; a
// bind of ours on ::1 or [::] holds the port against a kernel bind of ::1
// (EADDRINUSE both ways); a listener of ours on [::] takes a connection a
// kernel process makes to ::1, and one made from this program.
// PEER: none
// IPV6: yes
// NORMALISED: peer ports print as EPHEMERAL.
#include "kernel_side.h"

#define P 22600

static void talk(int c)
{
	char b[16];
	T_CALL("  send", send(c, "hello", 5, 0));
	ct_wait_bytes(c, 5, 3000);
	long n = T_CALL("  recv", recv(c, b, sizeof b, 0));
	t_data("  data", b, n);
}

static int connect6(const char *what, const char *ip, int port)
{
	int c = socket(AF_INET6, SOCK_STREAM, 0);
	struct sockaddr_in6 a = ct_addr6(ip, port);
	T_CALL(what, connect(c, (struct sockaddr *)&a, sizeof a));
	return c;
}

int main(int argc, char **argv)
{
	ks_main(argc, argv);
	int r;

	t_log("== a kernel listener on ::1");
	ks_t k = ks_start("listen", "::1", P, 0, &r);
	t_log("kernel listen ::1: %s", t_errname(r));
	int c = connect6("connect [::1]", "::1", P);
	t_peername("  getpeername", c);
	talk(c);
	close(c);
	ks_stop(k);

	t_log("== a kernel listener on 127.0.0.1, reached by v4-mapped address");
	k = ks_start("listen", "127.0.0.1", P + 1, 0, &r);
	t_log("kernel listen 127.0.0.1: %s", t_errname(r));
	c = connect6("connect [::ffff:127.0.0.1]", "::ffff:127.0.0.1", P + 1);
	t_peername("  getpeername", c);
	talk(c);
	close(c);
	ks_stop(k);

	t_log("== no listener anywhere");
	c = connect6("connect [::1]", "::1", P + 2);
	close(c);

	t_log("== bind conflicts");
	k = ks_start("bind", "::1", P + 3, 0, &r);
	t_log("kernel bind ::1: %s", t_errname(r));
	int b = socket(AF_INET6, SOCK_STREAM, 0);
	struct sockaddr_in6 a = ct_addr6("::1", P + 3);
	T_CALL("bind [::1] (kernel holds it)", bind(b, (struct sockaddr *)&a, sizeof a));
	close(b);
	ks_stop(k);
	b = socket(AF_INET6, SOCK_STREAM, 0);
	a = ct_addr6("::", P + 4);
	T_CALL("bind [::]", bind(b, (struct sockaddr *)&a, sizeof a));
	k = ks_start("bind", "::1", P + 4, 0, &r);
	t_log("kernel bind ::1 (ours holds [::]): %s", t_errname(r));
	ks_stop(k);
	close(b);

	t_log("== a listener of ours on [::]");
	int l = socket(AF_INET6, SOCK_STREAM, 0);
	ct_setint(l, SOL_SOCKET, SO_REUSEADDR, 1);
	a = ct_addr6("::", P + 5);
	T_CALL("bind [::]", bind(l, (struct sockaddr *)&a, sizeof a));
	T_CALL("listen", listen(l, 8));
	k = ks_start("dconnect", "::1", P + 5, 0, &r);
	int s = T_CALL("accept (kernel client)", accept(l, NULL, NULL));
	t_peername("  getpeername", s);
	char buf[16];
	ct_wait_bytes(s, 6, 3000);
	long n = recv(s, buf, sizeof buf, 0);
	t_data("  got", buf, n);
	send(s, "ok", 2, MSG_NOSIGNAL);
	int kc = ks_next(k);
	t_log("kernel client connect: %s, reply %d bytes", t_errname(kc), ks_next(k));
	close(s);
	ks_stop(k);
	c = connect6("connect [::1] (to our listener)", "::1", P + 5);
	s = T_CALL("accept", accept(l, NULL, NULL));
	t_peername("  getpeername", s);
	close(c);
	close(s);
	return 0;
}
