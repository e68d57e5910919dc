// CHECKS: dual stack inside one host: a TCP listener on [::] (IPV6_V6ONLY
// 0, the default from net.ipv6.bindv6only) accepts an AF_INET client to
// 10.7.0.2, seen as ::ffff:10.7.0.2 (accept, getpeername, getsockname, all
// 28 bytes), and an AF_INET6 client to [fd00:7::2] and to [::1]; an
// AF_INET6 client connecting to ::ffff:10.7.0.2 reaches an AF_INET
// listener; a V6ONLY listener refuses IPv4 (ECONNREFUSED) and takes IPv6;
// a V6ONLY socket cannot connect to a v4-mapped address (ENETUNREACH) nor
// bind one (EINVAL). Data crosses every connection.
// PEER: none
// IPV6: yes
// NORMALISED: ephemeral ports print as EPHEMERAL.
#include "trace.h"

#define P 21910

static void accept_one(const char *what, int l)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	int s = accept(l, (struct sockaddr *)&ss, &len);
	if (s < 0) {
		t_log("%s accept = -1 %s", what, t_errname(errno));
		return;
	}
	t_log("%s accept peer %s len %u", what, t_addrstr((struct sockaddr *)&ss, len), (unsigned)len);
	t_sockname("  getsockname", s);
	t_peername("  getpeername", s);
	char b[8] = { 0 };
	ct_recv_all(s, b, 2);
	t_data("  data", b, 2);
	close(s);
}

static int client(int family, const char *ip, unsigned port)
{
	int c = socket(family, SOCK_STREAM, 0);
	int rc;
	if (family == AF_INET) {
		struct sockaddr_in a = ct_addr(ip, port);
		rc = connect(c, (struct sockaddr *)&a, sizeof a);
	} else {
		struct sockaddr_in6 a = ct_addr6(ip, port);
		rc = connect(c, (struct sockaddr *)&a, sizeof a);
	}
	t_log("connect %s %s:%u = %d %s", family == AF_INET ? "AF_INET" : "AF_INET6", ip, port, rc,
	      rc < 0 ? t_errname(errno) : "");
	if (rc == 0) {
		t_sockname("  client getsockname", c);
		t_peername("  client getpeername", c);
		ct_send_all(c, "hi", 2);
	}
	return c;
}

int main(void)
{
	int l = socket(AF_INET6, SOCK_STREAM, 0);
	T_EQ("IPV6_V6ONLY default", ct_getint(l, IPPROTO_IPV6, IPV6_V6ONLY), 0);
	struct sockaddr_in6 any = ct_addr6("::", P);
	T_CALL("bind [::]:21910", bind(l, (struct sockaddr *)&any, sizeof any));
	T_CALL("listen", listen(l, 8));
	t_sockname("listener getsockname", l);

	int c = client(AF_INET, SELF_IP, P);
	accept_one("ipv4 client:", l);
	close(c);
	c = client(AF_INET6, SELF_IP6, P);
	accept_one("ipv6 client:", l);
	close(c);
	c = client(AF_INET6, "::1", P);
	accept_one("::1 client:", l);
	close(c);

	// An AF_INET listener reached through a v4-mapped address.
	int l4 = ct_listen(P + 1, 8);
	c = client(AF_INET6, "::ffff:10.7.0.2", P + 1);
	accept_one("v4-mapped client:", l4);
	close(c);
	close(l4);

	// IPV6_V6ONLY.
	int o = socket(AF_INET6, SOCK_STREAM, 0);
	ct_setint(o, IPPROTO_IPV6, IPV6_V6ONLY, 1);
	any = ct_addr6("::", P + 2);
	T_CALL("bind V6ONLY [::]:21912", bind(o, (struct sockaddr *)&any, sizeof any));
	T_CALL("listen", listen(o, 8));
	c = client(AF_INET, SELF_IP, P + 2);
	close(c);
	c = client(AF_INET6, SELF_IP6, P + 2);
	accept_one("v6only listener, ipv6 client:", o);
	close(c);
	close(o);

	int v = socket(AF_INET6, SOCK_STREAM, 0);
	ct_setint(v, IPPROTO_IPV6, IPV6_V6ONLY, 1);
	struct sockaddr_in6 m = ct_addr6("::ffff:10.7.0.2", P);
	T_CALL("V6ONLY connect ::ffff:10.7.0.2", connect(v, (struct sockaddr *)&m, sizeof m));
	T_CALL("V6ONLY bind ::ffff:10.7.0.2", bind(v, (struct sockaddr *)&m, sizeof m));
	close(v);
	close(l);
	return 0;
}
