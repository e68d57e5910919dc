// CHECKS: IPv6 source-specific multicast on UDP as Linux (mcast.c
// ip6_mc_source, inet6_mc_check, ipv6_chk_mcast_addr): the errnos of
// MCAST_JOIN/LEAVE_SOURCE_GROUP and MCAST_BLOCK/UNBLOCK_SOURCE at
// IPPROTO_IPV6 (a short value, a longer one is fine, a group or source not AF_INET6, not
// multicast, an unknown interface, not joined, a source twice, a mode
// that does not match the list, an unknown source; on TCP too); then
// delivery: r1 INCLUDE {the peer}, r2 any source but the peer blocked,
// r3 any source, r4 not a member (IPV6_MULTICAST_ALL): a datagram of ours
// (looped back) and one of the peer's (through the device) reach each as
// its filter says; once only r1's INCLUDE filter is left, ours is not
// even looped back (the interface's filter); r1's last source dropped is
// its leave.
// PEER: udp 24300 join:ff05::1:3 wait:go sendgrp:24305:frompeer signal:sent
// IPV6: yes
// NORMALISED: waits for what must not arrive are 300 ms.
#include "trace.h"

#define P 24300
#define GROUP "ff05::1:3"
#define PEER6 "fd00:7::1"

// struct group_source_req for `name` with the families, interface,
// group and source given; `len` bytes of it.
static int gsr(int s, int name, int gfam, int sfam, int ifindex, const char *group,
	       const char *source, socklen_t len, const char *what)
{
	struct group_source_req g;
	memset(&g, 0, sizeof g);
	g.gsr_interface = ifindex;
	struct sockaddr_in6 *ga = (struct sockaddr_in6 *)&g.gsr_group;
	struct sockaddr_in6 *sa = (struct sockaddr_in6 *)&g.gsr_source;
	ga->sin6_family = gfam;
	sa->sin6_family = sfam;
	inet_pton(AF_INET6, group, &ga->sin6_addr);
	inet_pton(AF_INET6, source, &sa->sin6_addr);
	return T_CALL(what, setsockopt(s, IPPROTO_IPV6, name, &g, len));
}

static int src(int s, int name, const char *source, const char *what)
{
	return gsr(s, name, AF_INET6, AF_INET6, 0, GROUP, source, sizeof(struct group_source_req),
		   what);
}

static int greq(int s, int name, const char *what)
{
	struct group_req g;
	memset(&g, 0, sizeof g);
	struct sockaddr_in6 *a = (struct sockaddr_in6 *)&g.gr_group;
	a->sin6_family = AF_INET6;
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

static void send_to(int s, const char *text)
{
	struct sockaddr_in6 g = ct_addr6(GROUP, P + 5);
	char what[64];
	snprintf(what, sizeof what, "sendto [%s]:%u \"%s\"", GROUP, P + 5, text);
	T_CALL(what, (int)sendto(s, text, strlen(text), 0, (struct sockaddr *)&g, sizeof g));
}

int main(void)
{
	int r1 = ct_bound6(P + 5), r2 = ct_bound6(P + 5), r3 = ct_bound6(P + 5);
	int r4 = ct_bound6(P + 5);
	int s = ct_bound6(P + 6);
	const socklen_t full = sizeof(struct group_source_req);

	t_log("== errnos");
	gsr(r1, MCAST_JOIN_SOURCE_GROUP, AF_INET6, AF_INET6, 0, GROUP, PEER6, full - 1,
	    "join source, 1 byte short");
	gsr(r1, MCAST_JOIN_SOURCE_GROUP, AF_INET, AF_INET6, 0, GROUP, PEER6, full,
	    "join source, AF_INET group");
	gsr(r1, MCAST_JOIN_SOURCE_GROUP, AF_INET6, AF_INET, 0, GROUP, PEER6, full,
	    "join source, AF_INET source");
	gsr(r1, MCAST_JOIN_SOURCE_GROUP, AF_INET6, AF_INET6, 0, "fd00:7::9", PEER6, full,
	    "join source, unicast group");
	gsr(r1, MCAST_JOIN_SOURCE_GROUP, AF_INET6, AF_INET6, 99, GROUP, PEER6, full,
	    "join source, interface 99");
	src(r1, MCAST_LEAVE_SOURCE_GROUP, PEER6, "leave source, not joined");
	gsr(r1, MCAST_JOIN_SOURCE_GROUP, AF_INET6, AF_INET6, 0, GROUP, PEER6, full + 8,
	    "join source, 8 bytes long");
	src(r1, MCAST_LEAVE_SOURCE_GROUP, PEER6, "leave that source (the last: a leave)");
	src(r1, MCAST_BLOCK_SOURCE, PEER6, "block, not joined");
	src(r1, MCAST_UNBLOCK_SOURCE, PEER6, "unblock, not joined");
	int t = socket(AF_INET6, SOCK_STREAM, 0);
	src(t, MCAST_JOIN_SOURCE_GROUP, PEER6, "TCP: join source");
	src(t, MCAST_BLOCK_SOURCE, PEER6, "TCP: block");
	src(t, MCAST_LEAVE_SOURCE_GROUP, PEER6, "TCP: leave source");
	close(t);

	t_log("== r1 INCLUDE {peer}");
	src(r1, MCAST_JOIN_SOURCE_GROUP, PEER6, "r1 join source peer");
	src(r1, MCAST_JOIN_SOURCE_GROUP, PEER6, "r1 join source peer again");
	src(r1, MCAST_BLOCK_SOURCE, "fd00:7::9", "r1 block (INCLUDE list)");
	greq(r1, MCAST_JOIN_GROUP, "r1 MCAST_JOIN_GROUP");
	src(r1, MCAST_LEAVE_SOURCE_GROUP, "fd00:7::9", "r1 leave source never joined");

	t_log("== r2 any source, peer blocked");
	greq(r2, MCAST_JOIN_GROUP, "r2 MCAST_JOIN_GROUP");
	src(r2, MCAST_UNBLOCK_SOURCE, PEER6, "r2 unblock, nothing blocked");
	src(r2, MCAST_BLOCK_SOURCE, PEER6, "r2 block peer");
	src(r2, MCAST_BLOCK_SOURCE, PEER6, "r2 block peer again");
	src(r2, MCAST_JOIN_SOURCE_GROUP, "fd00:7::9", "r2 join source (EXCLUDE list)");
	src(r2, MCAST_BLOCK_SOURCE, "fd00:7::9", "r2 block another");
	src(r2, MCAST_UNBLOCK_SOURCE, "fd00:7::9", "r2 unblock it");

	t_log("== r3 any source; r4 not a member");
	greq(r3, MCAST_JOIN_GROUP, "r3 MCAST_JOIN_GROUP");
	send_to(s, "mine");
	ct_signal("go");
	ct_wait("sent", 5000);
	drain("r1 (INCLUDE peer)", r1);
	drain("r2 (EXCLUDE peer)", r2);
	drain("r3 (any source)", r3);
	drain("r4 (not a member)", r4);

	t_log("== only r1's INCLUDE {peer} left");
	greq(r2, MCAST_LEAVE_GROUP, "r2 MCAST_LEAVE_GROUP");
	greq(r3, MCAST_LEAVE_GROUP, "r3 MCAST_LEAVE_GROUP");
	send_to(s, "filtered");
	drain("r1", r1);
	drain("r4 (not a member)", r4);

	t_log("== r1's last source dropped: it left");
	src(r1, MCAST_LEAVE_SOURCE_GROUP, PEER6, "r1 leave source peer");
	src(r1, MCAST_LEAVE_SOURCE_GROUP, PEER6, "r1 leave source peer again");
	greq(r1, MCAST_LEAVE_GROUP, "r1 MCAST_LEAVE_GROUP");
	greq(r1, MCAST_JOIN_GROUP, "r1 MCAST_JOIN_GROUP");
	send_to(s, "anyagain");
	drain("r1 (any source)", r1);
	drain("r4 (not a member)", r4);
	ct_peer_report(P);
	return 0;
}
