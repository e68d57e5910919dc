// CHECKS: MCAST_MSFILTER at IPPROTO_IPV6 (struct group_filter) sets and
// reads a membership's whole source filter as Linux (ip6_mc_msfilter,
// ip6_mc_msfget): the errnos of a short value, too many sources
// (mld_max_msf), a list longer than the value, a group that is not
// multicast, a bad mode, an unknown interface, interface 0, no prior
// join; a group not AF_INET6 is taken as one by a set (EADDRNOTAVAIL on
// a read); (INCLUDE, empty) leaves the group; a read reports the whole
// count and copies as many sources as the caller has room for, with the
// length that holds them; 64 sources (8,336 bytes) fit; the filter set
// decides delivery of ours (fd00:7::2, looped back) and the peer's
// (fd00:7::1, through the device). On the device, found as the interface
// with an fd00:7::/64 address (its index is not printed).
// PEER: udp 24310 join:ff05::1:7 wait:go1 sendgrp:24315:two signal:sent1 wait:go2 sendgrp:24315:two signal:sent2 wait:go3 sendgrp:24315:two signal:sent3 wait:go4 sendgrp:24315:two signal:sent4 wait:go5 sendgrp:24315:two signal:sent5
// IPV6: yes
// NORMALISED: waits for what must not arrive are 300 ms.
#include "trace.h"

#include <stddef.h>

#define P 24310
#define GROUP "ff05::1:7"

#include <ifaddrs.h>
#include <net/if.h>

static int s1, r;
static uint32_t dev;

static struct sockaddr_storage ss6(const char *a)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof ss);
	struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;
	s->sin6_family = AF_INET6;
	inet_pton(AF_INET6, a, &s->sin6_addr);
	return ss;
}

// A group_filter with room for 66 sources.
struct gf {
	uint32_t ifindex;
	struct sockaddr_storage group;
	uint32_t fmode, numsrc;
	struct sockaddr_storage src[66];
};

static int gf_set(const char *what, uint32_t ifindex, const char *group, uint32_t fmode,
		  uint32_t numsrc, const char *const *src, int nlist, int family, socklen_t len)
{
	static struct gf g;
	memset(&g, 0, sizeof g);
	g.ifindex = ifindex;
	g.group = ss6(group);
	g.group.ss_family = family;
	g.fmode = fmode;
	g.numsrc = numsrc;
	for (int i = 0; i < nlist; i++)
		g.src[i] = ss6(src[i]);
	if (!len)
		len = offsetof(struct gf, src) + nlist * sizeof(struct sockaddr_storage);
	return T_CALL(what, setsockopt(r, IPPROTO_IPV6, MCAST_MSFILTER, &g, len));
}

static void gf_get(const char *what, uint32_t ifindex, uint32_t room, int family)
{
	static struct gf g;
	memset(&g, 0xee, sizeof g);
	g.ifindex = ifindex;
	g.group = ss6(GROUP);
	g.group.ss_family = family;
	g.numsrc = room;
	socklen_t len = offsetof(struct gf, src) + room * sizeof(struct sockaddr_storage);
	if (T_CALL(what, getsockopt(r, IPPROTO_IPV6, MCAST_MSFILTER, &g, &len)) < 0)
		return;
	char line[256];
	int k = snprintf(line, sizeof line, "  len %u fmode %u numsrc %u:", len, g.fmode, g.numsrc);
	for (unsigned i = 0; i < 3 && k < (int)sizeof line; i++) {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&g.src[i];
		char a[INET6_ADDRSTRLEN] = "bad family";
		if (s->sin6_family == AF_INET6)
			inet_ntop(AF_INET6, &s->sin6_addr, a, sizeof a);
		k += snprintf(line + k, sizeof line - k, " %s",
			      s->sin6_family == 0xeeee ? "untouched" : a);
	}
	t_log("%s", line);
}

// The index of the interface with an address in fd00:7::/64.
static uint32_t device(void)
{
	struct ifaddrs *l, *i;
	unsigned char pfx[8] = { 0xfd, 0, 0, 7, 0, 0, 0, 0 };
	uint32_t found = 0;
	if (getifaddrs(&l) < 0)
		ct_die("getifaddrs");
	for (i = l; i; i = i->ifa_next)
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET6 &&
		    !memcmp(&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr, pfx, 8))
			found = if_nametoindex(i->ifa_name);
	freeifaddrs(l);
	if (!found)
		ct_die("no fd00:7::/64 interface");
	return found;
}

// We and the peer send to the group; print what the receiver got.
static void round_of(const char *what)
{
	static int n;
	char go[16], sent[16];
	snprintf(go, sizeof go, "go%d", ++n);
	snprintf(sent, sizeof sent, "sent%d", n);
	struct sockaddr_in6 g = ct_addr6(GROUP, P + 5);
	if (sendto(s1, "one", 3, 0, (struct sockaddr *)&g, sizeof g) != 3)
		ct_die("sendto group");
	ct_signal(go);
	ct_wait(sent, 5000);
	char line[160] = "";
	for (;;) {
		char b[16];
		struct pollfd p = { .fd = r, .events = POLLIN };
		if (poll(&p, 1, 300) <= 0)
			break;
		ssize_t n = recv(r, b, sizeof b, 0);
		if (n < 0)
			break;
		snprintf(line + strlen(line), sizeof line - strlen(line), " %.*s", (int)n, b);
	}
	t_log("%s: got%s", what, line[0] ? line : " nothing");
}

int main(void)
{
	dev = device();
	s1 = ct_bound6(P + 6);
	r = ct_bound6(P + 5);
	const char *const two[] = { "fd00:7::2", "fd00:7::1" };
	static const char *many[65];
	static char names[65][24];
	for (int i = 0; i < 65; i++) {
		snprintf(names[i], sizeof names[i], "fd00:7::%x", 0x100 + i);
		many[i] = names[i];
	}

	t_log("== errnos");
	gf_set("143 bytes", dev, GROUP, MCAST_EXCLUDE, 0, NULL, 0, AF_INET6, 143);
	gf_set("65 sources", dev, GROUP, MCAST_INCLUDE, 65, many, 65, AF_INET6, 0);
	gf_set("2 sources, room for 1", dev, GROUP, MCAST_INCLUDE, 2, two, 1, AF_INET6, 0);
	gf_set("group AF_INET", dev, GROUP, MCAST_INCLUDE, 1, two, 1, AF_INET, 0);
	gf_set("group not multicast", dev, "fd00:7::9", MCAST_INCLUDE, 1, two, 1, AF_INET6, 0);
	gf_set("mode 7", dev, GROUP, 7, 1, two, 1, AF_INET6, 0);
	gf_set("no prior join", dev, GROUP, MCAST_INCLUDE, 1, two, 1, AF_INET6, 0);
	gf_set("unknown ifindex", 99, GROUP, MCAST_INCLUDE, 1, two, 1, AF_INET6, 0);
	gf_get("get, room for 0", dev, 0, AF_INET6);
	gf_get("get, not joined", dev, 2, AF_INET6);
	struct group_req gr;
	memset(&gr, 0, sizeof gr);
	gr.gr_interface = dev;
	gr.gr_group = ss6(GROUP);
	T_CALL("MCAST_JOIN_GROUP on the device",
	       setsockopt(r, IPPROTO_IPV6, MCAST_JOIN_GROUP, &gr, sizeof gr));
	gf_get("get, any source", dev, 2, AF_INET6);
	gf_get("get, ifindex 0", 0, 2, AF_INET6);
	gf_get("get, group AF_INET", dev, 2, AF_INET);
	gf_set("set, ifindex 0", 0, GROUP, MCAST_INCLUDE, 1, two, 1, AF_INET6, 0);
	gf_set("set, group AF_INET", dev, GROUP, MCAST_INCLUDE, 1, two, 1, AF_INET, 0);
	gf_set("set, group not multicast", dev, "fd00:7::9", MCAST_INCLUDE, 1, two, 1, AF_INET6, 0);
	gf_set("set, mode 7", dev, GROUP, 7, 1, two, 1, AF_INET6, 0);
	round_of("INCLUDE {fd00:7::2}, set with an AF_INET group");

	t_log("== filters");
	gf_set("INCLUDE {fd00:7::2 fd00:7::1}", dev, GROUP, MCAST_INCLUDE, 2, two, 2, AF_INET6, 0);
	gf_get("get, room for 2", dev, 2, AF_INET6);
	gf_get("get, room for 1", dev, 1, AF_INET6);
	round_of("INCLUDE {fd00:7::2 fd00:7::1}");
	gf_set("EXCLUDE {fd00:7::2}", dev, GROUP, MCAST_EXCLUDE, 1, two, 1, AF_INET6, 0);
	gf_get("get", dev, 2, AF_INET6);
	round_of("EXCLUDE {fd00:7::2}");
	gf_set("64 sources", dev, GROUP, MCAST_EXCLUDE, 64, many, 64, AF_INET6, 0);
	gf_get("get, room for 2", dev, 2, AF_INET6);
	gf_set("EXCLUDE {}", dev, GROUP, MCAST_EXCLUDE, 0, NULL, 0, AF_INET6, 0);
	gf_get("get", dev, 2, AF_INET6);
	round_of("EXCLUDE {}");
	gf_set("(INCLUDE, empty) leaves", dev, GROUP, MCAST_INCLUDE, 0, NULL, 0, AF_INET6, 0);
	gf_get("get after leaving", dev, 2, AF_INET6);
	round_of("after leaving");
	return 0;
}
