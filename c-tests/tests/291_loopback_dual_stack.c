// CHECKS: a dual-stack [::] socket (IPV6_V6ONLY off) covers 127.0.0.1 as
// well as ::1 in the host's one port space (issue 19): a kernel client of
// 127.0.0.1 and one of ::1 both reach a [::] listener, seen v4-mapped and
// v6; a kernel socket on 127.0.0.1 makes a later [::] bind EADDRINUSE and
// a [::] bind makes later kernel binds of 127.0.0.1 and 0.0.0.0
// EADDRINUSE; with IPV6_V6ONLY on, [::] leaves 127.0.0.1 to the kernel;
// a kernel UDP client of 127.0.0.1 reaches a [::] UDP socket and gets
// its reply.
// PEER: none
// IPV6: yes
// NORMALISED: the kernel clients' ports print as EPHEMERAL.
#include "kernel_side.h"

#define P 22910

static int any6(int ty, int port, int v6only)
{
	int fd = socket(AF_INET6, ty, 0), one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only);
	struct sockaddr_in6 a = ct_addr6("::", port);
	T_CALL("bind [::]", bind(fd, (struct sockaddr *)&a, sizeof a));
	return fd;
}

static void from_kernel(int l, const char *ip, int port)
{
	int r;
	ks_t k = ks_start("connect", ip, port, 0, &r);
	t_log("kernel connect %s = %s", ip, r ? t_errname(r) : "0");
	if (r == 0) {
		int c = T_CALL("accept", accept(l, NULL, NULL));
		char b[16];
		ct_wait_bytes(c, 6, 3000);
		long n = recv(c, b, sizeof b, 0);
		t_data("  got", b, n);
		t_peername("  peer", c);
		send(c, "ok", 2, MSG_NOSIGNAL);
		close(c);
		t_log("kernel side got a %d-byte reply", ks_next(k));
	}
	ks_stop(k);
}

static void kernel_bind(const char *job, const char *ip, int port, int reuse)
{
	int r;
	ks_t k = ks_start(job, ip, port, reuse, &r);
	t_log("kernel %s %s = %s", job, ip, r ? t_errname(r) : "0");
	ks_stop(k);
}

int main(int argc, char **argv)
{
	ks_main(argc, argv);
	t_log("-- a [::] listener, kernel clients of 127.0.0.1 and ::1");
	int l = any6(SOCK_STREAM, P, 0);
	T_CALL("listen", listen(l, 8));
	from_kernel(l, "127.0.0.1", P);
	from_kernel(l, "::1", P);

	t_log("-- kernel binds while [::] holds the port");
	kernel_bind("bind", "127.0.0.1", P, 0);
	kernel_bind("bind", "0.0.0.0", P, 0);
	kernel_bind("bind", "::1", P, 0);
	close(l);
	// (SO_REUSEADDR: the accepted connections may be in TIME_WAIT.)
	t_log("-- after close, with SO_REUSEADDR");
	kernel_bind("listen", "127.0.0.1", P, 1);

	t_log("-- a kernel socket on 127.0.0.1 first");
	int r;
	ks_t k = ks_start("bind", "127.0.0.1", P + 1, 0, &r);
	t_log("kernel bind 127.0.0.1 = %s", r ? t_errname(r) : "0");
	int s = socket(AF_INET6, SOCK_STREAM, 0), one = 1;
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in6 a = ct_addr6("::", P + 1);
	T_CALL("bind [::]", bind(s, (struct sockaddr *)&a, sizeof a));
	close(s);
	s = any6(SOCK_STREAM, P + 1, 1);
	t_log("(that one with IPV6_V6ONLY)");
	T_CALL("listen", listen(s, 8));
	ks_stop(k);
	from_kernel(s, "127.0.0.1", P + 1);
	from_kernel(s, "::1", P + 1);
	close(s);

	t_log("-- UDP on [::], a kernel client of 127.0.0.1");
	int u = any6(SOCK_DGRAM, P + 2, 0);
	k = ks_start("uconnect", "127.0.0.1", P + 2, 0, &r);
	t_log("kernel client connect: %s", r ? t_errname(r) : "0");
	struct pollfd p = {.fd = u, .events = POLLIN};
	T_CALL("poll", poll(&p, 1, 3000));
	t_revents("  revents", p.revents);
	char buf[64];
	struct sockaddr_in6 from;
	socklen_t fl = sizeof from;
	long n = recvfrom(u, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
	t_ret("recvfrom", n, errno);
	t_data("  data", buf, n > 0 ? n : 0);
	t_log("  from %s", t_addrstr((struct sockaddr *)&from, fl));
	T_CALL("sendto the kernel client", sendto(u, "reply!", 6, 0, (struct sockaddr *)&from, fl));
	t_log("kernel client got: %d", ks_next(k));
	ks_stop(k);
	kernel_bind("ubind", "127.0.0.1", P + 2, 0);
	close(u);
	return 0;
}
