// CHECKS: MLDv2 listener reports as Linux sends them on the device (RFC
// 3810, mcast.c): the first socket to join a group is a TO_EX {} record,
// the last to leave (or close) a TO_IN {}; a second member, a member
// leaving while another stays, a group on lo and an interface-local group
// (ff01::) send nothing. The peer prints each group's records as they
// change (the kernel repeats each a varying number of times: not
// compared), only of groups wider than link-local scope (the kernel's own
// solicited-node reports are left out).
// PEER: mld 23140
// IPV6: yes
// NORMALISED: the peer prints records, not timings, sources or repeats;
// each change waits until the peer has seen its record, and 300 ms after
// the last one for any other.
#include "trace.h"

#define P 23140

static int reports;

static void its_record(void)
{
	char name[32];
	reports += 1;
	snprintf(name, sizeof name, "mld%d", reports);
	ct_wait(name, 8000);
}

static int sock6(void)
{
	int s = socket(AF_INET6, SOCK_DGRAM, 0);
	if (s < 0)
		ct_die("socket6");
	return s;
}

static int join(int s, int name, const char *group, int ifindex, const char *what)
{
	struct ipv6_mreq m;
	memset(&m, 0, sizeof m);
	inet_pton(AF_INET6, group, &m.ipv6mr_multiaddr);
	m.ipv6mr_interface = ifindex;
	return T_CALL(what, setsockopt(s, IPPROTO_IPV6, name, &m, sizeof m));
}

int main(void)
{
	int s1 = sock6(), s2 = sock6(), s3 = sock6();
	join(s3, IPV6_JOIN_GROUP, "ff05::9", 1, "join ff05::9 on lo (never reported)");
	join(s3, IPV6_JOIN_GROUP, "ff01::9", 0, "join ff01::9 (interface-local scope)");
	join(s1, IPV6_JOIN_GROUP, "ff05::1:3", 0, "s1 join ff05::1:3");
	its_record();
	join(s2, IPV6_JOIN_GROUP, "ff05::1:3", 0, "s2 join ff05::1:3 (a second member)");
	join(s1, IPV6_LEAVE_GROUP, "ff05::1:3", 0, "s1 leave (s2 stays)");
	join(s1, IPV6_JOIN_GROUP, "ff0e::1234", 0, "s1 join ff0e::1234");
	its_record();
	T_CALL("close s2", close(s2));
	its_record();
	join(s1, IPV6_LEAVE_GROUP, "ff0e::1234", 0, "s1 leave ff0e::1234");
	its_record();
	T_CALL("close s3", close(s3));
	ct_sleep_ms(300);
	ct_peer_report(P);
	return 0;
}
