// CHECKS: IP_MSFILTER (struct ip_msfilter) and MCAST_MSFILTER (struct
// group_filter) set and read a membership's whole source filter as Linux
// (ip_mc_msfilter, ip_mc_msfget, ip_mc_gsfget): the errnos of a short
// value, too many sources (igmp_max_msf), a list longer than the value, a
// group that is not multicast, a bad mode, an unknown interface, no prior
// join, the wrong family; (INCLUDE, empty) leaves the group; a read
// reports the whole count and copies as many sources as the caller has
// room for, with the length that holds them; the filter set decides
// delivery; an empty EXCLUDE filter lets IP_ADD_SOURCE_MEMBERSHIP switch
// the mode again. All on lo, from 127.0.0.1 and 127.0.0.2.
// PEER: none
// NORMALISED: waits for what must not arrive are 300 ms.
#include "trace.h"

#include <stddef.h>

#define P 23110
#define GROUP "239.1.2.3"

static int s1, s2, r;

// An ip_msfilter with room for 12 sources.
struct msf {
	struct in_addr multi, iface;
	uint32_t fmode, numsrc;
	struct in_addr src[12];
};

static int msf_set(const char *what, const char *group, const char *iface, uint32_t fmode,
		   uint32_t numsrc, const char *const *src, int nlist, socklen_t len)
{
	struct msf m;
	memset(&m, 0, sizeof m);
	inet_pton(AF_INET, group, &m.multi);
	inet_pton(AF_INET, iface, &m.iface);
	m.fmode = fmode;
	m.numsrc = numsrc;
	for (int i = 0; i < nlist; i++)
		inet_pton(AF_INET, src[i], &m.src[i]);
	if (!len)
		len = 16 + 4 * nlist;
	return T_CALL(what, setsockopt(r, IPPROTO_IP, IP_MSFILTER, &m, len));
}

// Read the filter of GROUP with room for `room` sources in a value of
// `len` bytes (0: exactly that room).
static void msf_get(const char *what, const char *group, const char *iface, uint32_t room, socklen_t len)
{
	struct msf m;
	memset(&m, 0xee, sizeof m);
	inet_pton(AF_INET, group, &m.multi);
	inet_pton(AF_INET, iface, &m.iface);
	m.numsrc = room;
	if (!len)
		len = 16 + 4 * room;
	if (T_CALL(what, getsockopt(r, IPPROTO_IP, IP_MSFILTER, &m, &len)) < 0)
		return;
	char line[256];
	int k = snprintf(line, sizeof line, "  len %u fmode %u numsrc %u:", len, m.fmode, m.numsrc);
	for (unsigned i = 0; i < 4 && k < (int)sizeof line; i++)
		k += snprintf(line + k, sizeof line - k, " %s%s",
			      m.src[i].s_addr == 0xeeeeeeee ? "untouched" : inet_ntoa(m.src[i]),
			      i < room ? "" : "(past room)");
	t_log("%s", line);
}

static struct sockaddr_storage ss4(const char *a)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof ss);
	struct sockaddr_in *s = (struct sockaddr_in *)&ss;
	s->sin_family = AF_INET;
	inet_pton(AF_INET, a, &s->sin_addr);
	return ss;
}

// A group_filter with room for 11 sources.
struct gf {
	uint32_t ifindex;
	struct sockaddr_storage group;
	uint32_t fmode, numsrc;
	struct sockaddr_storage src[11];
};

static int gf_set(const char *what, uint32_t ifindex, uint32_t fmode, uint32_t numsrc,
		  const char *const *src, int nlist, int family, socklen_t len)
{
	static struct gf g;
	memset(&g, 0, sizeof g);
	g.ifindex = ifindex;
	g.group = ss4(GROUP);
	g.group.ss_family = family;
	g.fmode = fmode;
	g.numsrc = numsrc;
	for (int i = 0; i < nlist; i++)
		g.src[i] = ss4(src[i]);
	if (!len)
		len = offsetof(struct gf, src) + nlist * sizeof(struct sockaddr_storage);
	return T_CALL(what, setsockopt(r, IPPROTO_IP, MCAST_MSFILTER, &g, len));
}

static void gf_get(const char *what, uint32_t ifindex, uint32_t room, int family)
{
	static struct gf g;
	memset(&g, 0xee, sizeof g);
	g.ifindex = ifindex;
	g.group = ss4(GROUP);
	g.group.ss_family = family;
	g.numsrc = room;
	socklen_t len = offsetof(struct gf, src) + room * sizeof(struct sockaddr_storage);
	if (T_CALL(what, getsockopt(r, IPPROTO_IP, MCAST_MSFILTER, &g, &len)) < 0)
		return;
	char line[256];
	int k = snprintf(line, sizeof line, "  len %u fmode %u numsrc %u:", len, g.fmode, g.numsrc);
	for (unsigned i = 0; i < 3 && k < (int)sizeof line; i++) {
		struct sockaddr_in *s = (struct sockaddr_in *)&g.src[i];
		k += snprintf(line + k, sizeof line - k, " %s",
			      s->sin_family == 0xeeee ? "untouched"
			      : s->sin_family == AF_INET ? inet_ntoa(s->sin_addr)
							 : "bad family");
	}
	t_log("%s", line);
}

// Both senders send to the group; print what the receiver got.
static void round_of(const char *what)
{
	struct sockaddr_in g = ct_addr(GROUP, P + 5);
	if (sendto(s1, "one", 3, 0, (struct sockaddr *)&g, sizeof g) != 3 ||
	    sendto(s2, "two", 3, 0, (struct sockaddr *)&g, sizeof g) != 3)
		ct_die("sendto group");
	char line[128] = "";
	for (;;) {
		char b[16];
		struct sockaddr_in from;
		socklen_t fl = sizeof from;
		struct pollfd p = { .fd = r, .events = POLLIN };
		if (poll(&p, 1, 300) <= 0)
			break;
		ssize_t n = recvfrom(r, b, sizeof b, 0, (struct sockaddr *)&from, &fl);
		if (n < 0)
			break;
		snprintf(line + strlen(line), sizeof line - strlen(line), " %.*s from %s", (int)n, b,
			 inet_ntoa(from.sin_addr));
	}
	t_log("%s: got%s", what, line[0] ? line : " nothing");
}

int main(void)
{
	s1 = ct_mcast_sender("127.0.0.1");
	s2 = ct_mcast_sender("127.0.0.2");
	r = ct_socket(SOCK_DGRAM);
	struct sockaddr_in a = ct_addr("0.0.0.0", P + 5);
	if (bind(r, (struct sockaddr *)&a, sizeof a) < 0)
		ct_die("bind receiver");
	const char *const two[] = { "127.0.0.2", "127.0.0.1" };
	const char *const eleven[11] = { "127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4",
					 "127.0.0.5", "127.0.0.6", "127.0.0.7", "127.0.0.8",
					 "127.0.0.9", "127.0.0.10", "127.0.0.11" };

	t_log("== IP_MSFILTER set: errnos");
	msf_set("15 bytes", GROUP, "127.0.0.1", MCAST_EXCLUDE, 0, NULL, 0, 15);
	msf_set("11 sources", GROUP, "127.0.0.1", MCAST_INCLUDE, 11, eleven, 11, 0);
	msf_set("2 sources, room for 1", GROUP, "127.0.0.1", MCAST_INCLUDE, 2, two, 1, 0);
	msf_set("not multicast", "10.1.2.3", "127.0.0.1", MCAST_INCLUDE, 1, two, 1, 0);
	msf_set("fmode 2", GROUP, "127.0.0.1", 2, 1, two, 1, 0);
	msf_set("unknown interface", GROUP, "10.9.9.9", MCAST_INCLUDE, 1, two, 1, 0);
	msf_set("no prior join", GROUP, "127.0.0.1", MCAST_EXCLUDE, 1, two, 1, 0);
	msf_set("(INCLUDE, empty) not joined", GROUP, "127.0.0.1", MCAST_INCLUDE, 0, NULL, 0, 0);
	msf_get("get, not joined", GROUP, "127.0.0.1", 2, 0);

	t_log("== IP_MSFILTER on a joined group");
	struct ip_mreq mr;
	inet_pton(AF_INET, GROUP, &mr.imr_multiaddr);
	inet_pton(AF_INET, "127.0.0.1", &mr.imr_interface);
	T_CALL("IP_ADD_MEMBERSHIP", setsockopt(r, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof mr));
	msf_get("get, any source", GROUP, "127.0.0.1", 2, 0);
	round_of("any source");
	msf_set("INCLUDE {127.0.0.2 127.0.0.1}", GROUP, "127.0.0.1", MCAST_INCLUDE, 2, two, 2, 0);
	msf_get("get, room for 2", GROUP, "127.0.0.1", 2, 0);
	msf_get("get, room for 1", GROUP, "127.0.0.1", 1, 0);
	msf_get("get, room for 0", GROUP, "127.0.0.1", 0, 0);
	msf_get("get, 15 bytes", GROUP, "127.0.0.1", 2, 15);
	msf_get("get, not multicast", "10.1.2.3", "127.0.0.1", 2, 0);
	msf_get("get, unknown interface", GROUP, "10.9.9.9", 2, 0);
	msf_get("get, another group", "239.9.9.9", "127.0.0.1", 2, 0);
	msf_set("INCLUDE {127.0.0.2}", GROUP, "127.0.0.1", MCAST_INCLUDE, 1, two, 1, 0);
	round_of("INCLUDE {127.0.0.2}");
	msf_set("EXCLUDE {127.0.0.2}", GROUP, "127.0.0.1", MCAST_EXCLUDE, 1, two, 1, 0);
	msf_get("get", GROUP, "127.0.0.1", 2, 0);
	round_of("EXCLUDE {127.0.0.2}");
	struct ip_mreq_source ms;
	ms.imr_multiaddr = mr.imr_multiaddr;
	ms.imr_interface = mr.imr_interface;
	inet_pton(AF_INET, "127.0.0.1", &ms.imr_sourceaddr);
	T_CALL("IP_BLOCK_SOURCE 127.0.0.1", setsockopt(r, IPPROTO_IP, IP_BLOCK_SOURCE, &ms, sizeof ms));
	msf_get("get", GROUP, "127.0.0.1", 2, 0);
	T_CALL("IP_ADD_SOURCE_MEMBERSHIP (EXCLUDE list set)",
	       setsockopt(r, IPPROTO_IP, IP_ADD_SOURCE_MEMBERSHIP, &ms, sizeof ms));
	msf_set("EXCLUDE {}", GROUP, "127.0.0.1", MCAST_EXCLUDE, 0, NULL, 0, 0);
	T_CALL("IP_ADD_SOURCE_MEMBERSHIP (empty filter)",
	       setsockopt(r, IPPROTO_IP, IP_ADD_SOURCE_MEMBERSHIP, &ms, sizeof ms));
	msf_get("get", GROUP, "127.0.0.1", 2, 0);
	round_of("after the mode switch");
	msf_set("(INCLUDE, empty) leaves", GROUP, "127.0.0.1", MCAST_INCLUDE, 0, NULL, 0, 0);
	msf_get("get after leaving", GROUP, "127.0.0.1", 2, 0);
	round_of("after leaving");

	t_log("== MCAST_MSFILTER");
	gf_set("143 bytes", 1, MCAST_EXCLUDE, 0, NULL, 0, AF_INET, 143);
	gf_set("11 sources", 1, MCAST_INCLUDE, 11, eleven, 11, AF_INET, 0);
	gf_set("2 sources, room for 1", 1, MCAST_INCLUDE, 2, two, 1, AF_INET, 0);
	gf_set("group AF_INET6", 1, MCAST_INCLUDE, 1, two, 1, AF_INET6, 0);
	gf_set("no prior join", 1, MCAST_INCLUDE, 1, two, 1, AF_INET, 0);
	gf_set("unknown ifindex", 99, MCAST_INCLUDE, 1, two, 1, AF_INET, 0);
	gf_get("get, not joined", 1, 2, AF_INET);
	struct group_req gr;
	memset(&gr, 0, sizeof gr);
	gr.gr_interface = 1;
	gr.gr_group = ss4(GROUP);
	T_CALL("MCAST_JOIN_GROUP", setsockopt(r, IPPROTO_IP, MCAST_JOIN_GROUP, &gr, sizeof gr));
	gf_get("get, any source", 1, 2, AF_INET);
	gf_get("get, ifindex 0", 0, 2, AF_INET);
	gf_get("get, group AF_INET6", 1, 2, AF_INET6);
	gf_set("INCLUDE {127.0.0.2 127.0.0.1}", 1, MCAST_INCLUDE, 2, two, 2, AF_INET, 0);
	gf_get("get, room for 2", 1, 2, AF_INET);
	gf_get("get, room for 1", 1, 1, AF_INET);
	round_of("INCLUDE {127.0.0.2 127.0.0.1}");
	msf_get("IP_MSFILTER get of it", GROUP, "127.0.0.1", 2, 0);
	gf_set("EXCLUDE {127.0.0.2}", 1, MCAST_EXCLUDE, 1, two, 1, AF_INET, 0);
	round_of("EXCLUDE {127.0.0.2}");
	gf_set("(INCLUDE, empty) leaves", 1, MCAST_INCLUDE, 0, NULL, 0, AF_INET, 0);
	gf_get("get after leaving", 1, 2, AF_INET);
	return 0;
}
