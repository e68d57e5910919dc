// CHECKS: bind conflicts between the families, TCP and UDP: AF_INET
// 0.0.0.0:P then AF_INET6 [::]:P (EADDRINUSE) or [::]:P with V6ONLY (0);
// AF_INET6 [::]:P first, then AF_INET 10.7.0.2:P or 0.0.0.0:P
// (EADDRINUSE); a specific IPv6 address and the IPv4 wildcard share a
// port; two V6ONLY wildcards conflict; SO_REUSEADDR on both lets two
// non-listening TCP sockets share [::] and 0.0.0.0.
// PEER: none
// IPV6: yes
// NORMALISED: nothing.
#include "trace.h"

#define P 21920

static int bind4(const char *what, int type, const char *ip, unsigned port, int reuse)
{
	int fd = socket(AF_INET, type, 0);
	if (reuse)
		ct_setint(fd, SOL_SOCKET, SO_REUSEADDR, 1);
	struct sockaddr_in a = ct_addr(ip, port);
	T_CALL(what, bind(fd, (struct sockaddr *)&a, sizeof a));
	return fd;
}

static int bind6(const char *what, int type, const char *ip, unsigned port, int v6only, int reuse)
{
	int fd = socket(AF_INET6, type, 0);
	ct_setint(fd, IPPROTO_IPV6, IPV6_V6ONLY, v6only);
	if (reuse)
		ct_setint(fd, SOL_SOCKET, SO_REUSEADDR, 1);
	struct sockaddr_in6 a = ct_addr6(ip, port);
	T_CALL(what, bind(fd, (struct sockaddr *)&a, sizeof a));
	return fd;
}

static void run(int type, unsigned p)
{
	const char *t = type == SOCK_STREAM ? "tcp" : "udp";
	t_log("-- %s", t);
	int a = bind4("  v4 0.0.0.0", type, "0.0.0.0", p, 0);
	int b = bind6("  v6 [::] dual", type, "::", p, 0, 0);
	int c = bind6("  v6 [::] v6only", type, "::", p, 1, 0);
	close(a), close(b), close(c);

	a = bind6("  v6 [::] dual first", type, "::", p + 1, 0, 0);
	b = bind4("  then v4 10.7.0.2", type, SELF_IP, p + 1, 0);
	c = bind4("  then v4 0.0.0.0", type, "0.0.0.0", p + 1, 0);
	close(a), close(b), close(c);

	a = bind6("  v6 [fd00:7::2]", type, SELF_IP6, p + 2, 0, 0);
	b = bind4("  then v4 0.0.0.0", type, "0.0.0.0", p + 2, 0);
	c = bind6("  then v6 [::] v6only", type, "::", p + 2, 1, 0);
	close(a), close(b), close(c);

	a = bind6("  v6 [::] v6only", type, "::", p + 3, 1, 0);
	b = bind6("  then v6 [::] v6only", type, "::", p + 3, 1, 0);
	c = bind4("  then v4 0.0.0.0", type, "0.0.0.0", p + 3, 0);
	close(a), close(b), close(c);

	a = bind6("  v6 [::] dual SO_REUSEADDR", type, "::", p + 4, 0, 1);
	b = bind4("  then v4 0.0.0.0 SO_REUSEADDR", type, "0.0.0.0", p + 4, 1);
	close(a), close(b);
}

int main(void)
{
	run(SOCK_STREAM, P);
	run(SOCK_DGRAM, P + 5);
	return 0;
}
