// CHECKS: a wildcard destination means this host, as Linux routes it.
// IPv4 0.0.0.0: an unbound socket reaches 127.0.0.1 (TCP connect, UDP
// connect, sendto, sendmsg; the peer and source addresses read
// 127.0.0.1), a socket bound to SELF_IP reaches SELF_IP; a listener bound
// to SELF_IP only is not reached from an unbound socket (ECONNREFUSED, the
// SYN went to 127.0.0.1). IPv6 :: on an AF_INET6 socket, as Linux's
// tcp_v6_connect, ip6_datagram_connect and udpv6_sendmsg make it: ::1
// whatever the socket is bound to (TCP connect to listeners on [::] and
// on ::1, UDP connect, sendto, sendmsg; peer and source read ::1), and
// ::ffff:127.0.0.1 for a socket bound to a v4-mapped address.
// PEER: none
// IPV6: yes
// NORMALISED: ephemeral ports print as EPHEMERAL.
#include "trace.h"

#define P 22400
// The IPv6 half's own ports: its wildcard listeners and the IPv4 half's
// would share a port through the dual-stack [::].
#define P6 (P + 50)

// An address of either family (IPv6 when ip has a colon), and its length.
static struct sockaddr_storage sa(const char *ip, unsigned port, socklen_t *len)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof ss);
	if (strchr(ip, ':')) {
		struct sockaddr_in6 a = ct_addr6(ip, port);
		memcpy(&ss, &a, sizeof a);
		*len = sizeof a;
	} else {
		struct sockaddr_in a = ct_addr(ip, port);
		memcpy(&ss, &a, sizeof a);
		*len = sizeof a;
	}
	return ss;
}

// A TCP listener on listen_on:port reached by a connect to wildcard:port.
static void tcp_to_any(const char *listen_on, const char *wildcard, unsigned port)
{
	t_log("== TCP listener on %s, connect to %s", listen_on, wildcard);
	socklen_t len;
	struct sockaddr_storage la = sa(listen_on, port, &len);
	int l = socket(la.ss_family, SOCK_STREAM, 0);
	ct_setint(l, SOL_SOCKET, SO_REUSEADDR, 1);
	T_CALL("bind", bind(l, (struct sockaddr *)&la, len));
	T_CALL("listen", listen(l, 4));
	struct sockaddr_storage to = sa(wildcard, port, &len);
	int c = socket(to.ss_family, SOCK_STREAM, 0);
	T_CALL("connect", connect(c, (struct sockaddr *)&to, len));
	t_peername("  getpeername", c);
	t_sockname("  getsockname", c);
	int a = ct_accept(l);
	t_peername("  accepted getpeername", a);
	t_sockname("  accepted getsockname", a);
	T_CALL("send", send(c, "hello", 5, 0));
	char buf[16];
	ct_wait_bytes(a, 5, 5000);
	long n = T_CALL("recv", recv(a, buf, sizeof buf, 0));
	t_data("  data", buf, n);
	close(a);
	close(c);
	close(l);
}

// A UDP socket bound to wildcard:port, reached by sendto, sendmsg and a
// connected send to wildcard:port from unbound sockets; returned, for the
// bound senders after.
static int udp_to_any(const char *wildcard, unsigned port)
{
	t_log("== UDP to %s", wildcard);
	socklen_t len;
	struct sockaddr_storage ra = sa(wildcard, port, &len);
	int r = socket(ra.ss_family, SOCK_DGRAM, 0);
	T_CALL("udp bind", bind(r, (struct sockaddr *)&ra, len));
	int s = socket(ra.ss_family, SOCK_DGRAM, 0);
	T_CALL("sendto", sendto(s, "one", 3, 0, (struct sockaddr *)&ra, len));
	t_sockname("  getsockname", s);
	t_recvfrom("recvfrom", r, 5000);
	struct iovec iov = { .iov_base = "two", .iov_len = 3 };
	struct msghdr m = { .msg_name = &ra, .msg_namelen = len, .msg_iov = &iov, .msg_iovlen = 1 };
	T_CALL("sendmsg", sendmsg(s, &m, 0));
	t_recvfrom("recvfrom", r, 5000);
	int u = socket(ra.ss_family, SOCK_DGRAM, 0);
	T_CALL("udp connect", connect(u, (struct sockaddr *)&ra, len));
	t_peername("  getpeername", u);
	t_sockname("  getsockname", u);
	T_CALL("send", send(u, "three", 5, 0));
	t_recvfrom("recvfrom", r, 5000);
	close(u);
	close(s);
	return r;
}

int main(void)
{
	t_log("==== IPv4: 0.0.0.0");
	tcp_to_any("0.0.0.0", "0.0.0.0", P + 5);
	t_log("== TCP listener on SELF_IP only");
	int l2 = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in self = ct_addr(SELF_IP, P + 6);
	T_CALL("bind SELF_IP", bind(l2, (struct sockaddr *)&self, sizeof self));
	T_CALL("listen", listen(l2, 4));
	struct sockaddr_in to6 = ct_addr("0.0.0.0", P + 6);
	int c = socket(AF_INET, SOCK_STREAM, 0);
	T_CALL("unbound connect 0.0.0.0 (to 127.0.0.1)", connect(c, (struct sockaddr *)&to6, sizeof to6));
	close(c);
	c = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in self0 = ct_addr(SELF_IP, 0);
	T_CALL("bind SELF_IP:0", bind(c, (struct sockaddr *)&self0, sizeof self0));
	T_CALL("bound connect 0.0.0.0 (to SELF_IP)", connect(c, (struct sockaddr *)&to6, sizeof to6));
	t_peername("  getpeername", c);
	close(c);
	close(l2);
	int r = udp_to_any("0.0.0.0", P + 7);
	struct sockaddr_in ra = ct_addr("0.0.0.0", P + 7);
	int ub = socket(AF_INET, SOCK_DGRAM, 0);
	T_CALL("bind SELF_IP:0", bind(ub, (struct sockaddr *)&self0, sizeof self0));
	T_CALL("bound sendto 0.0.0.0", sendto(ub, "four", 4, 0, (struct sockaddr *)&ra, sizeof ra));
	t_recvfrom("recvfrom", r, 5000);
	close(ub);
	close(r);

	t_log("==== IPv6: ::");
	tcp_to_any("::", "::", P6 + 5);
	tcp_to_any("::1", "::", P6 + 6);
	r = udp_to_any("::", P6 + 7);
	struct sockaddr_in6 ra6 = ct_addr6("::", P6 + 7);
	t_log("== bound to ::ffff:127.0.0.1");
	int um = socket(AF_INET6, SOCK_DGRAM, 0);
	struct sockaddr_in6 mapped = ct_addr6("::ffff:127.0.0.1", 0);
	T_CALL("bind ::ffff:127.0.0.1:0", bind(um, (struct sockaddr *)&mapped, sizeof mapped));
	T_CALL("udp connect [::]", connect(um, (struct sockaddr *)&ra6, sizeof ra6));
	t_peername("  getpeername", um);
	T_CALL("send", send(um, "four", 4, 0));
	t_recvfrom("recvfrom", r, 5000);
	int tm = socket(AF_INET6, SOCK_STREAM, 0);
	T_CALL("tcp bind ::ffff:127.0.0.1:0", bind(tm, (struct sockaddr *)&mapped, sizeof mapped));
	struct sockaddr_in6 tto = ct_addr6("::", P6 + 8);
	T_CALL("tcp connect [::] (no listener)", connect(tm, (struct sockaddr *)&tto, sizeof tto));
	return 0;
}
