// CHECKS: IGMPv3 membership reports as Linux sends them on the device
// (RFC 3376 5.1, igmp.c): to 224.0.0.22 with TTL 1, TOS 0xc0 and Router
// Alert; a join is TO_EX {}, a leave TO_IN {}; IP_BLOCK_SOURCE and
// IP_UNBLOCK_SOURCE are BLOCK and ALLOW of the source; source-specific
// joins ALLOW each source; an any-source join beside them switches the
// device's filter to EXCLUDE (TO_EX {}), its close back to INCLUDE with
// the sources (TO_IN {S1 S2}); closing the last member of an INCLUDE
// group BLOCKs its sources; link-local groups are reported, 224.0.0.1 and
// groups on lo never. Each change is sent twice (net.ipv4.igmp_qrv).
// PEER: igmp 23100
// NORMALISED: the peer prints records, not timings; each change waits
// until the peer has counted its two reports (sync files), and 300 ms
// after the last one for any extra report.
#include "trace.h"

#define P 23100
#define G1 "239.1.2.3"
#define G2 "232.1.1.1"
#define S1 PEER_IP
#define S2 "10.7.0.9"

static int reports;

// Wait until the peer has seen the two reports of the last change.
static void two_reports(void)
{
	char name[32];
	reports += 2;
	snprintf(name, sizeof name, "igmp%d", reports);
	ct_wait(name, 8000);
}

int main(void)
{
	int s1 = ct_socket(SOCK_DGRAM);
	int s2 = ct_socket(SOCK_DGRAM);
	int s3 = ct_socket(SOCK_DGRAM);
	int lo = ct_socket(SOCK_DGRAM);

	t_mreq(lo, IP_ADD_MEMBERSHIP, "239.9.9.9", "127.0.0.1", "join on lo (never reported)");
	t_mreq(s1, IP_ADD_MEMBERSHIP, "224.0.0.1", SELF_IP, "join 224.0.0.1 (never reported)");
	t_mreq(s1, IP_ADD_MEMBERSHIP, G1, SELF_IP, "s1 join G1");
	two_reports();
	t_mreq_source(s1, IP_BLOCK_SOURCE, G1, S1, "s1 block S1");
	two_reports();
	t_mreq_source(s1, IP_UNBLOCK_SOURCE, G1, S1, "s1 unblock S1");
	two_reports();
	t_mreq_source(s2, IP_ADD_SOURCE_MEMBERSHIP, G2, S1, "s2 join G2 from S1");
	two_reports();
	t_mreq_source(s2, IP_ADD_SOURCE_MEMBERSHIP, G2, S2, "s2 join G2 from S2");
	two_reports();
	t_mreq(s3, IP_ADD_MEMBERSHIP, G2, SELF_IP, "s3 join G2, any source");
	two_reports();
	T_CALL("close s3", close(s3));
	two_reports();
	t_mreq(s1, IP_DROP_MEMBERSHIP, G1, SELF_IP, "s1 leave G1");
	two_reports();
	T_CALL("close s2", close(s2));
	two_reports();
	t_mreq(s1, IP_ADD_MEMBERSHIP, "224.0.0.251", SELF_IP, "s1 join 224.0.0.251");
	two_reports();
	T_CALL("close s1", close(s1));
	two_reports();
	T_CALL("close lo", close(lo));
	ct_sleep_ms(300);
	ct_peer_report(P);
	return 0;
}
