// CHECKS: IPv4 source-specific multicast as Linux (ip_mc_source,
// ip_mc_sf_allow): IP_ADD/DROP_SOURCE_MEMBERSHIP join in INCLUDE mode and
// let only the listed sources through, IP_BLOCK/UNBLOCK_SOURCE keep an
// EXCLUDE list on an any-source join, with Linux's errnos (a mode
// mismatch, a source twice, a source not there, no prior join, more than
// net.ipv4.igmp_max_msf sources); dropping the last included source
// leaves the group; the MCAST_*_SOURCE_* group_source_req forms do the
// same by interface index. Datagrams go over lo from 127.0.0.1 and
// 127.0.0.2.
// PEER: none
// NORMALISED: waits for what must not arrive are 300 ms.
#include "trace.h"

#define P 22900
#define GROUP "239.1.2.3"

struct mreq_source {
	struct in_addr multi, iface, source;
};

static int src_opt(int s, int opt, const char *group, const char *source, const char *what)
{
	struct mreq_source m;
	inet_pton(AF_INET, group, &m.multi);
	inet_pton(AF_INET, "127.0.0.1", &m.iface);
	inet_pton(AF_INET, source, &m.source);
	return T_CALL(what, setsockopt(s, IPPROTO_IP, opt, &m, sizeof m));
}

static int gsr_opt(int s, int opt, const char *source, const char *what)
{
	struct group_source_req g;
	memset(&g, 0, sizeof g);
	g.gsr_interface = 1;
	struct sockaddr_in *gr = (struct sockaddr_in *)&g.gsr_group;
	struct sockaddr_in *sr = (struct sockaddr_in *)&g.gsr_source;
	gr->sin_family = sr->sin_family = AF_INET;
	inet_pton(AF_INET, GROUP, &gr->sin_addr);
	inet_pton(AF_INET, source, &sr->sin_addr);
	return T_CALL(what, setsockopt(s, IPPROTO_IP, opt, &g, sizeof g));
}

static int receiver(void)
{
	int r = ct_socket(SOCK_DGRAM);
	ct_setint(r, SOL_SOCKET, SO_REUSEADDR, 1);
	struct sockaddr_in a = ct_addr("0.0.0.0", P + 5);
	if (bind(r, (struct sockaddr *)&a, sizeof a) < 0)
		ct_die("bind receiver");
	return r;
}

static int s1, s2;

// Both senders send; print what each receiver got, by source.
static void round_of(const char *what, int *r, int n)
{
	struct sockaddr_in g = ct_addr(GROUP, P + 5);
	if (sendto(s1, "one", 3, 0, (struct sockaddr *)&g, sizeof g) != 3 ||
	    sendto(s2, "two", 3, 0, (struct sockaddr *)&g, sizeof g) != 3)
		ct_die("sendto group");
	t_log("%s", what);
	for (int i = 0; i < n; i++) {
		char line[128] = "";
		for (;;) {
			char b[16];
			struct sockaddr_in from;
			socklen_t fl = sizeof from;
			if (!ct_wait_event(r[i], POLLIN, POLLIN, 300))
				break;
			long k = recvfrom(r[i], b, sizeof b, MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
			if (k < 0)
				break;
			char ip[32];
			inet_ntop(AF_INET, &from.sin_addr, ip, sizeof ip);
			strncat(line, " ", sizeof line - strlen(line) - 1);
			strncat(line, ip, sizeof line - strlen(line) - 1);
		}
		t_log("  receiver %d got:%s", i, line[0] ? line : " nothing");
	}
}

int main(void)
{
	s1 = ct_mcast_sender("127.0.0.1");
	s2 = ct_mcast_sender("127.0.0.2");
	int r[3] = { receiver(), receiver(), receiver() };

	t_log("== INCLUDE (receiver 0)");
	src_opt(r[0], IP_ADD_SOURCE_MEMBERSHIP, GROUP, "127.0.0.1", "add source 127.0.0.1");
	src_opt(r[0], IP_ADD_SOURCE_MEMBERSHIP, GROUP, "127.0.0.1", "add source 127.0.0.1 again");
	src_opt(r[0], IP_BLOCK_SOURCE, GROUP, "127.0.0.2", "block 127.0.0.2 (INCLUDE mode)");
	struct ip_mreq mr;
	inet_pton(AF_INET, GROUP, &mr.imr_multiaddr);
	inet_pton(AF_INET, "127.0.0.1", &mr.imr_interface);
	T_CALL("IP_ADD_MEMBERSHIP too", setsockopt(r[0], IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof mr));

	t_log("== EXCLUDE (receiver 1)");
	src_opt(r[1], IP_BLOCK_SOURCE, GROUP, "127.0.0.1", "block before joining");
	T_CALL("IP_ADD_MEMBERSHIP", setsockopt(r[1], IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof mr));
	src_opt(r[1], IP_BLOCK_SOURCE, GROUP, "127.0.0.1", "block 127.0.0.1");
	src_opt(r[1], IP_BLOCK_SOURCE, GROUP, "127.0.0.1", "block 127.0.0.1 again");
	src_opt(r[1], IP_ADD_SOURCE_MEMBERSHIP, GROUP, "127.0.0.2", "add source (EXCLUDE mode)");
	src_opt(r[1], IP_DROP_SOURCE_MEMBERSHIP, GROUP, "127.0.0.1", "drop source (EXCLUDE mode)");
	round_of("-- both send", r, 3);

	src_opt(r[1], IP_UNBLOCK_SOURCE, GROUP, "127.0.0.2", "unblock 127.0.0.2 (not blocked)");
	src_opt(r[1], IP_UNBLOCK_SOURCE, GROUP, "127.0.0.1", "unblock 127.0.0.1");
	src_opt(r[0], IP_DROP_SOURCE_MEMBERSHIP, GROUP, "127.0.0.2", "receiver 0: drop 127.0.0.2 (not there)");
	src_opt(r[0], IP_ADD_SOURCE_MEMBERSHIP, GROUP, "127.0.0.2", "receiver 0: add source 127.0.0.2");
	round_of("-- both send", r, 3);

	t_log("== leaving by the last source");
	src_opt(r[0], IP_DROP_SOURCE_MEMBERSHIP, GROUP, "127.0.0.1", "receiver 0: drop 127.0.0.1");
	src_opt(r[0], IP_DROP_SOURCE_MEMBERSHIP, GROUP, "127.0.0.2", "receiver 0: drop 127.0.0.2 (the last)");
	T_CALL("receiver 0: IP_DROP_MEMBERSHIP", setsockopt(r[0], IPPROTO_IP, IP_DROP_MEMBERSHIP, &mr, sizeof mr));
	t_log("== mode switch of an empty filter (receiver 1)");
	src_opt(r[1], IP_ADD_SOURCE_MEMBERSHIP, GROUP, "127.0.0.2", "receiver 1: add source 127.0.0.2");
	round_of("-- both send", r, 3);

	t_log("== group_source_req (receiver 2)");
	gsr_opt(r[2], MCAST_BLOCK_SOURCE, "127.0.0.1", "MCAST_BLOCK_SOURCE before joining");
	gsr_opt(r[2], MCAST_JOIN_SOURCE_GROUP, "127.0.0.2", "MCAST_JOIN_SOURCE_GROUP 127.0.0.2");
	round_of("-- both send", r, 3);
	gsr_opt(r[2], MCAST_LEAVE_SOURCE_GROUP, "127.0.0.2", "MCAST_LEAVE_SOURCE_GROUP 127.0.0.2");
	gsr_opt(r[2], MCAST_UNBLOCK_SOURCE, "127.0.0.2", "MCAST_UNBLOCK_SOURCE after leaving");

	t_log("== igmp_max_msf sources");
	int n = ct_socket(SOCK_DGRAM);
	char src[32];
	int i, rc = 0;
	for (i = 1; i <= 11 && rc == 0; i++) {
		struct mreq_source m;
		inet_pton(AF_INET, GROUP, &m.multi);
		inet_pton(AF_INET, "127.0.0.1", &m.iface);
		snprintf(src, sizeof src, "10.9.0.%d", i);
		inet_pton(AF_INET, src, &m.source);
		errno = 0;
		rc = setsockopt(n, IPPROTO_IP, IP_ADD_SOURCE_MEMBERSHIP, &m, sizeof m);
	}
	t_log("source %d: %s", i - 1, rc ? t_errname(errno) : "all taken");
	T_CALL("short ip_mreq_source", setsockopt(n, IPPROTO_IP, IP_ADD_SOURCE_MEMBERSHIP, &mr, sizeof mr));
	int v;
	socklen_t vl = sizeof v;
	T_CALL("getsockopt IP_ADD_SOURCE_MEMBERSHIP", getsockopt(n, IPPROTO_IP, IP_ADD_SOURCE_MEMBERSHIP, &v, &vl));
	return 0;
}
