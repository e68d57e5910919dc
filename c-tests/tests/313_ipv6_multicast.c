// CHECKS: IPv6 multicast on UDP as Linux (mcast.c, udpv6): the errnos of
// IPV6_JOIN_GROUP / IPV6_LEAVE_GROUP and MCAST_JOIN/LEAVE_GROUP (a short
// value, not multicast, an unknown interface, twice, not joined, a group
// not AF_INET6; EPROTO on TCP) and the options' defaults; two sockets on
// one port that joined a group (by the route: interface 0) and a third on
// the port that did not (IPV6_MULTICAST_ALL) all receive a datagram that
// one of our sockets sends to it (looped back: IPV6_MULTICAST_LOOP) and
// one the peer sends to it through the device; the peer, a member on the
// device, receives ours; with IPV6_MULTICAST_LOOP 0 ours does not come
// back, and once both members left nothing does.
// PEER: udp 23130 join:ff05::1:3 wait:go recv sendgrp:23135:frompeer signal:sent
// IPV6: yes
// NORMALISED: waits for what must not arrive are 300 ms.
#include "trace.h"

#define P 23130
#define GROUP "ff05::1:3"

static int opt6(int s, int name, const char *group, int ifindex, socklen_t len, const char *what)
{
	struct ipv6_mreq m;
	memset(&m, 0, sizeof m);
	inet_pton(AF_INET6, group, &m.ipv6mr_multiaddr);
	m.ipv6mr_interface = ifindex;
	return T_CALL(what, setsockopt(s, IPPROTO_IPV6, name, &m, len));
}

static int greq(int s, int name, int family, int ifindex, const char *what)
{
	struct group_req g;
	memset(&g, 0, sizeof g);
	g.gr_interface = ifindex;
	struct sockaddr_in6 *a = (struct sockaddr_in6 *)&g.gr_group;
	a->sin6_family = family;
	inet_pton(AF_INET6, GROUP, &a->sin6_addr);
	return T_CALL(what, setsockopt(s, IPPROTO_IPV6, name, &g, sizeof g));
}

// Everything `r` has now, waiting 300 ms for each.
static void drain(const char *what, int r)
{
	char line[256] = "";
	for (;;) {
		char b[32];
		struct sockaddr_storage from;
		socklen_t fl = sizeof from;
		struct pollfd p = { .fd = r, .events = POLLIN };
		if (poll(&p, 1, 300) <= 0)
			break;
		ssize_t n = recvfrom(r, b, sizeof b, 0, (struct sockaddr *)&from, &fl);
		if (n < 0)
			break;
		snprintf(line + strlen(line), sizeof line - strlen(line), " \"%.*s\" from %s", (int)n, b,
			 t_addrstr((struct sockaddr *)&from, fl));
	}
	t_log("%s:%s", what, line[0] ? line : " nothing");
}

static void send_to(int s, unsigned port, const char *text)
{
	struct sockaddr_in6 g = ct_addr6(GROUP, port);
	char what[64];
	snprintf(what, sizeof what, "sendto [%s]:%u \"%s\"", GROUP, port, text);
	T_CALL(what, (int)sendto(s, text, strlen(text), 0, (struct sockaddr *)&g, sizeof g));
}

int main(void)
{
	int r1 = ct_bound6(P + 5), r2 = ct_bound6(P + 5), r3 = ct_bound6(P + 5);
	int s = ct_bound6(P + 6);

	t_log("== defaults");
	t_getint("IPV6_MULTICAST_HOPS", s, IPPROTO_IPV6, IPV6_MULTICAST_HOPS);
	t_getint("IPV6_MULTICAST_LOOP", s, IPPROTO_IPV6, IPV6_MULTICAST_LOOP);
	t_getint("IPV6_MULTICAST_IF", s, IPPROTO_IPV6, IPV6_MULTICAST_IF);

	t_log("== errnos");
	opt6(r1, IPV6_JOIN_GROUP, GROUP, 0, 19, "join, 19 bytes");
	opt6(r1, IPV6_JOIN_GROUP, "fd00:7::9", 0, sizeof(struct ipv6_mreq), "join a unicast address");
	opt6(r1, IPV6_JOIN_GROUP, GROUP, 99, sizeof(struct ipv6_mreq), "join on interface 99");
	opt6(r1, IPV6_LEAVE_GROUP, GROUP, 0, sizeof(struct ipv6_mreq), "leave, not joined");
	greq(r1, MCAST_JOIN_GROUP, AF_INET, 0, "MCAST_JOIN_GROUP, AF_INET group");
	int t = socket(AF_INET6, SOCK_STREAM, 0);
	opt6(t, IPV6_JOIN_GROUP, GROUP, 0, sizeof(struct ipv6_mreq), "TCP: join");
	close(t);

	t_log("== two members and a bystander");
	opt6(r1, IPV6_JOIN_GROUP, GROUP, 0, sizeof(struct ipv6_mreq), "r1 join (interface 0)");
	opt6(r1, IPV6_JOIN_GROUP, GROUP, 0, sizeof(struct ipv6_mreq), "r1 join again");
	greq(r2, MCAST_JOIN_GROUP, AF_INET6, 0, "r2 MCAST_JOIN_GROUP");
	greq(r2, MCAST_JOIN_GROUP, AF_INET6, 0, "r2 MCAST_JOIN_GROUP again");
	send_to(s, P + 5, "mine");
	send_to(s, P, "topeer");
	ct_signal("go");
	ct_wait("sent", 5000);
	drain("r1", r1);
	drain("r2", r2);
	drain("r3 (not a member)", r3);

	t_log("== IPV6_MULTICAST_LOOP 0");
	ct_setint(s, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, 0);
	send_to(s, P + 5, "noloop");
	drain("r1", r1);
	ct_setint(s, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, 1);

	t_log("== both members leave");
	opt6(r1, IPV6_LEAVE_GROUP, GROUP, 0, sizeof(struct ipv6_mreq), "r1 leave");
	greq(r2, MCAST_LEAVE_GROUP, AF_INET6, 0, "r2 MCAST_LEAVE_GROUP");
	greq(r2, MCAST_LEAVE_GROUP, AF_INET6, 0, "r2 MCAST_LEAVE_GROUP again");
	send_to(s, P + 5, "left");
	drain("r3", r3);
	ct_peer_report(P);
	return 0;
}
