// CHECKS: IPv6 multicast options as Linux 6.18 handles them outside UDP's
// IPV6_JOIN_GROUP: an AF_INET6 TCP socket joins and leaves a group with
// MCAST_JOIN_GROUP / MCAST_LEAVE_GROUP (twice: EADDRINUSE, not joined:
// EADDRNOTAVAIL, an AF_INET group: EADDRNOTAVAIL) while IPV6_JOIN_GROUP
// stays EPROTO, and joins an IPv4 group at IPPROTO_IP. IP_MULTICAST_ALL
// and IPV6_MULTICAST_ALL are two flags, and an AF_INET6 socket starts
// with IP_MULTICAST_ALL off; a socket on the group's port that did not
// join takes our own looped datagram to an IPv6 group while
// IPV6_MULTICAST_ALL is on, whatever IP_MULTICAST_ALL says, and a
// dual-stack one takes an IPv4 group's only with IP_MULTICAST_ALL on.
// PEER: none
// IPV6: yes
// NORMALISED: waits for what must not arrive are 300 ms.
#include "trace.h"

#define P 23150
#define GROUP "ff05::1:3"

static int greq6(int s, int name, int family, const char *what)
{
	struct group_req g;
	memset(&g, 0, sizeof g);
	if (family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&g.gr_group;
		a->sin6_family = AF_INET6;
		inet_pton(AF_INET6, GROUP, &a->sin6_addr);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&g.gr_group;
		a->sin_family = AF_INET;
		inet_pton(AF_INET, "239.1.2.3", &a->sin_addr);
	}
	int level = name & 0x10000 ? IPPROTO_IP : IPPROTO_IPV6;
	return T_CALL(what, setsockopt(s, level, name & 0xffff, &g, sizeof g));
}

static void both(int s, const char *when)
{
	int a = -1, b = -1;
	socklen_t la = sizeof a, lb = sizeof b;
	getsockopt(s, IPPROTO_IP, IP_MULTICAST_ALL, &a, &la);
	getsockopt(s, IPPROTO_IPV6, IPV6_MULTICAST_ALL, &b, &lb);
	t_log("%s: IP_MULTICAST_ALL %d IPV6_MULTICAST_ALL %d", when, a, b);
}

static void got(const char *what, int r)
{
	char b[32];
	struct pollfd p = { .fd = r, .events = POLLIN };
	if (poll(&p, 1, 300) <= 0) {
		t_log("%s: nothing", what);
		return;
	}
	ssize_t n = recv(r, b, sizeof b, 0);
	t_log("%s: \"%.*s\"", what, n > 0 ? (int)n : 0, b);
}

int main(void)
{
	t_log("== TCP AF_INET6");
	int t = socket(AF_INET6, SOCK_STREAM, 0);
	greq6(t, MCAST_JOIN_GROUP, AF_INET6, "MCAST_JOIN_GROUP");
	greq6(t, MCAST_JOIN_GROUP, AF_INET6, "MCAST_JOIN_GROUP again");
	greq6(t, MCAST_JOIN_GROUP, AF_INET, "MCAST_JOIN_GROUP, AF_INET group");
	greq6(t, MCAST_LEAVE_GROUP, AF_INET6, "MCAST_LEAVE_GROUP");
	greq6(t, MCAST_LEAVE_GROUP, AF_INET6, "MCAST_LEAVE_GROUP again");
	greq6(t, MCAST_JOIN_GROUP | 0x10000, AF_INET, "IPPROTO_IP MCAST_JOIN_GROUP, AF_INET group");
	struct ipv6_mreq m;
	memset(&m, 0, sizeof m);
	inet_pton(AF_INET6, GROUP, &m.ipv6mr_multiaddr);
	T_CALL("IPV6_JOIN_GROUP", setsockopt(t, IPPROTO_IPV6, IPV6_JOIN_GROUP, &m, sizeof m));
	greq6(t, MCAST_JOIN_GROUP, AF_INET6, "MCAST_JOIN_GROUP, kept over close");
	T_CALL("close", close(t));

	t_log("== IP_MULTICAST_ALL and IPV6_MULTICAST_ALL");
	int u = socket(AF_INET6, SOCK_DGRAM, 0);
	both(u, "defaults");
	ct_setint(u, IPPROTO_IPV6, IPV6_MULTICAST_ALL, 0);
	both(u, "IPV6_MULTICAST_ALL 0");
	ct_setint(u, IPPROTO_IP, IP_MULTICAST_ALL, 1);
	both(u, "IP_MULTICAST_ALL 1");
	ct_setint(u, IPPROTO_IPV6, IPV6_MULTICAST_ALL, 1);
	both(u, "IPV6_MULTICAST_ALL 1");
	ct_setint(u, IPPROTO_IP, IP_MULTICAST_ALL, 0);
	both(u, "IP_MULTICAST_ALL 0");
	ct_setint(u, IPPROTO_IPV6, IPV6_MULTICAST_ALL, 1);
	both(u, "IPV6_MULTICAST_ALL 1");
	close(u);

	t_log("== delivery to sockets that did not join");
	int member = ct_bound6(P + 5), v4off = ct_bound6(P + 5), v6off = ct_bound6(P + 5);
	int s = ct_bound6(P + 6);
	greq6(member, MCAST_JOIN_GROUP, AF_INET6, "member joins");
	ct_setint(v4off, IPPROTO_IP, IP_MULTICAST_ALL, 0);
	ct_setint(v6off, IPPROTO_IPV6, IPV6_MULTICAST_ALL, 0);
	struct sockaddr_in6 g = ct_addr6(GROUP, P + 5);
	T_CALL("sendto the group", (int)sendto(s, "mine", 4, 0, (struct sockaddr *)&g, sizeof g));
	got("member", member);
	got("IP_MULTICAST_ALL 0", v4off);
	got("IPV6_MULTICAST_ALL 0", v6off);

	t_log("== an IPv4 group to AF_INET6 sockets that did not join");
	int m4 = ct_bound6(P + 7), d6 = ct_bound6(P + 7), d4 = ct_bound6(P + 7);
	struct ip_mreq mr;
	inet_pton(AF_INET, "239.1.2.3", &mr.imr_multiaddr);
	inet_pton(AF_INET, SELF_IP, &mr.imr_interface);
	T_CALL("member joins 239.1.2.3", setsockopt(m4, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof mr));
	ct_setint(d4, IPPROTO_IP, IP_MULTICAST_ALL, 1);
	int s4 = ct_socket(SOCK_DGRAM);
	struct sockaddr_in g4 = ct_addr("239.1.2.3", P + 7);
	T_CALL("sendto 239.1.2.3", (int)sendto(s4, "four", 4, 0, (struct sockaddr *)&g4, sizeof g4));
	got("member", m4);
	got("IP_MULTICAST_ALL default (0)", d6);
	got("IP_MULTICAST_ALL 1", d4);
	return 0;
}
