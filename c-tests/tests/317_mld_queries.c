// CHECKS: MLD queries answered as Linux answers them (mcast.c,
// __mld_query_work): an MLDv2 general query by a report of every group's
// current state (IS_EX {} for an any-source member), a group-specific one
// by that group's; an MLDv1 query switches the host to MLDv1: it answers
// with an MLDv1 report (to the group), and the leave and the close of a
// group it reported last are MLDv1 dones (to ff02::2).
// PEER: mld 23170 join:ff02::2 wait:q1 query:2/::/100 wait:q2 query:2/ff05::1:4/100 wait:q3 join:ff05::1:3 sleep:200 query:1/ff05::1:3/100
// IPV6: yes
// NORMALISED: the peer prints records as they change, not timings (Linux
// repeats a state change a varying number of times within 2 s: each join
// is followed by 2.5 s of quiet before the next query); the queries ask
// for an answer within 100 ms and each step waits for the peer to log the
// records it expects, 300 ms after the last for any extra.
#include "trace.h"

#define P 23170
#define M1 "ff05::1:3"
#define M2 "ff05::1:4"

static int opt6(int s, int name, const char *group, const char *what)
{
	struct ipv6_mreq m;
	memset(&m, 0, sizeof m);
	inet_pton(AF_INET6, group, &m.ipv6mr_multiaddr);
	return T_CALL(what, setsockopt(s, IPPROTO_IPV6, name, &m, sizeof m));
}

int main(void)
{
	int s1 = socket(AF_INET6, SOCK_DGRAM, 0);
	int s2 = socket(AF_INET6, SOCK_DGRAM, 0);

	opt6(s1, IPV6_JOIN_GROUP, M1, "s1 join M1");
	ct_mcast_step("mld", "", 1);
	ct_sleep_ms(2500);
	t_log("MLDv2 general query");
	ct_mcast_step("mld", "q1", 1);
	opt6(s2, IPV6_JOIN_GROUP, M2, "s2 join M2");
	ct_mcast_step("mld", "", 1);
	ct_sleep_ms(2500);
	t_log("MLDv2 query of M2");
	ct_mcast_step("mld", "q2", 1);
	t_log("MLDv1 query of M1");
	ct_mcast_step("mld", "q3", 1);
	opt6(s1, IPV6_LEAVE_GROUP, M1, "s1 leave M1");
	ct_mcast_step("mld", "", 1);
	T_CALL("close s2", close(s2));
	ct_mcast_step("mld", "", 1);
	ct_sleep_ms(300);
	ct_peer_report(P);
	return 0;
}
