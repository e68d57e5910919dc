// CHECKS: IGMP queries answered as Linux answers them (igmp.c,
// igmp_heard_query): a v3 general query by one report of every group's
// current state (IS_EX / IS_IN with its sources); a group-specific query
// by that group's state; a group-and-source query of an INCLUDE group by
// IS_IN of the asked sources it includes, not at all when it includes
// none of them; of an EXCLUDE group not at all when every asked source
// is excluded, else by the whole state. A v2 query switches the host to
// IGMPv2: it answers with v2 reports (0x16, to the group), and a leave
// of a group it reported last is a v2 leave (0x17, to 224.0.0.2), a
// close too; all with TTL 1, TOS 0xc0 and Router Alert.
// PEER: igmp 23160 join:239.1.2.3,232.1.1.1,239.3.3.3,224.0.0.2 wait:q1 query:3/0.0.0.0/1 wait:q2 query:3/232.1.1.1/1 wait:q3 query:3/232.1.1.1/1/10.7.0.1,10.7.0.9 wait:q4 query:3/239.3.3.3/1/10.7.0.9 query:3/232.1.1.1/1/10.7.0.9 query:3/239.3.3.3/1/10.7.0.1,10.7.0.9 wait:q5 query:2/239.1.2.3/1 wait:q6 query:2/232.1.1.1/1
// NORMALISED: the peer prints messages, not timings; the queries ask for
// an answer within 100 ms, and each step waits for the peer to count the
// messages it expects (sync files), 300 ms after the last for any extra.
#include "trace.h"

#define P 23160
#define G1 "239.1.2.3"
#define G2 "232.1.1.1"
#define G3 "239.3.3.3"
#define S1 PEER_IP
#define S2 "10.7.0.9"

int main(void)
{
	int s1 = ct_socket(SOCK_DGRAM);
	int s2 = ct_socket(SOCK_DGRAM);
	int s3 = ct_socket(SOCK_DGRAM);

	t_mreq(s1, IP_ADD_MEMBERSHIP, G1, SELF_IP, "s1 join G1");
	ct_mcast_step("igmp", "", 2);
	t_mreq_source(s2, IP_ADD_SOURCE_MEMBERSHIP, G2, S1, "s2 join G2 from S1");
	ct_mcast_step("igmp", "", 2);
	t_mreq(s3, IP_ADD_MEMBERSHIP, G3, SELF_IP, "s3 join G3");
	ct_mcast_step("igmp", "", 2);
	t_mreq_source(s3, IP_BLOCK_SOURCE, G3, S2, "s3 block S2 in G3");
	ct_mcast_step("igmp", "", 2);
	t_log("v3 general query");
	ct_mcast_step("igmp", "q1", 1);
	t_log("v3 query of G2");
	ct_mcast_step("igmp", "q2", 1);
	t_log("v3 query of G2 and S1 S2");
	ct_mcast_step("igmp", "q3", 1);
	t_log("v3 queries of G3 and S2, of G2 and S2, of G3 and S1 S2");
	ct_mcast_step("igmp", "q4", 1);
	t_log("v2 query of G1");
	ct_mcast_step("igmp", "q5", 1);
	t_log("v2 query of G2");
	ct_mcast_step("igmp", "q6", 1);
	t_mreq(s1, IP_DROP_MEMBERSHIP, G1, SELF_IP, "s1 leave G1");
	ct_mcast_step("igmp", "", 1);
	T_CALL("close s3", close(s3));
	ct_mcast_step("igmp", "", 1);
	T_CALL("close s2", close(s2));
	ct_mcast_step("igmp", "", 1);
	ct_sleep_ms(300);
	ct_peer_report(P);
	return 0;
}
