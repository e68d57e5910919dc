// CHECKS: IPv4 multicast on UDP sockets: option defaults
// (IP_MULTICAST_TTL/LOOP/ALL/IF), IP_ADD/DROP_MEMBERSHIP and MCAST_JOIN/
// LEAVE_GROUP errnos (short optlen, not a group, unknown interface, joined
// twice, not joined); two sockets sharing a port (SO_REUSEADDR) that joined
// one group on loopback both receive a datagram sent to it; a socket that
// did not join but has IP_MULTICAST_ALL receives it too, one with it off
// does not; a datagram to a group sent by the device (IP_MULTICAST_IF
// SELF_IP) reaches the kernel peer that joined it there, and loops back to
// our own member unless IP_MULTICAST_LOOP is off; after the drop nothing
// more arrives.
// PEER: udp 22410 any join:224.0.2.2 sink
// NORMALISED: ephemeral ports print as EPHEMERAL; "nothing" is a 300 ms wait.
#include "trace.h"

#define P 22410

static struct ip_mreq mreq(const char *group, const char *ifaddr)
{
	struct ip_mreq m;
	m.imr_multiaddr.s_addr = inet_addr(group);
	m.imr_interface.s_addr = inet_addr(ifaddr);
	return m;
}

static int member(unsigned port, const char *group, const char *ifaddr)
{
	int fd = ct_socket(SOCK_DGRAM);
	ct_setint(fd, SOL_SOCKET, SO_REUSEADDR, 1);
	struct sockaddr_in a = ct_addr("0.0.0.0", port);
	if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0)
		ct_die("bind");
	if (group) {
		struct ip_mreq m = mreq(group, ifaddr);
		T_CALL("IP_ADD_MEMBERSHIP", setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof m));
	}
	return fd;
}

int main(void)
{
	int u = socket(AF_INET, SOCK_DGRAM, 0);
	T_EQ("IP_MULTICAST_TTL", ct_getint(u, IPPROTO_IP, IP_MULTICAST_TTL), 1);
	T_EQ("IP_MULTICAST_LOOP", ct_getint(u, IPPROTO_IP, IP_MULTICAST_LOOP), 1);
	T_EQ("IP_MULTICAST_ALL", ct_getint(u, IPPROTO_IP, IP_MULTICAST_ALL), 1);
	struct in_addr ifa = { 0x12345678 };
	socklen_t il = sizeof ifa;
	T_CALL("get IP_MULTICAST_IF", getsockopt(u, IPPROTO_IP, IP_MULTICAST_IF, &ifa, &il));
	t_log("  %s len %u", inet_ntoa(ifa), il);

	struct ip_mreq m = mreq("224.0.2.1", "127.0.0.1");
	T_CALL("add optlen 4", setsockopt(u, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, 4));
	struct ip_mreq bad = mreq("10.7.0.9", "127.0.0.1");
	T_CALL("add unicast group", setsockopt(u, IPPROTO_IP, IP_ADD_MEMBERSHIP, &bad, sizeof bad));
	bad = mreq("224.0.2.1", "10.9.9.9");
	T_CALL("add on no interface", setsockopt(u, IPPROTO_IP, IP_ADD_MEMBERSHIP, &bad, sizeof bad));
	struct ip_mreqn mn = { .imr_multiaddr.s_addr = inet_addr("224.0.2.1"), .imr_ifindex = 999 };
	T_CALL("add ifindex 999", setsockopt(u, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mn, sizeof mn));
	T_CALL("drop not joined", setsockopt(u, IPPROTO_IP, IP_DROP_MEMBERSHIP, &m, sizeof m));
	T_CALL("add", setsockopt(u, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof m));
	T_CALL("add again", setsockopt(u, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof m));
	mn.imr_ifindex = 1; // loopback
	T_CALL("add by ifindex 1 (same)", setsockopt(u, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mn, sizeof mn));
	T_CALL("drop", setsockopt(u, IPPROTO_IP, IP_DROP_MEMBERSHIP, &m, sizeof m));
	T_CALL("drop again", setsockopt(u, IPPROTO_IP, IP_DROP_MEMBERSHIP, &m, sizeof m));
	struct group_req gr = { .gr_interface = 1 };
	struct sockaddr_in *gs = (struct sockaddr_in *)&gr.gr_group;
	gs->sin_family = AF_INET;
	gs->sin_addr.s_addr = inet_addr("224.0.2.3");
	T_CALL("MCAST_JOIN_GROUP", setsockopt(u, IPPROTO_IP, MCAST_JOIN_GROUP, &gr, sizeof gr));
	T_CALL("MCAST_JOIN_GROUP again", setsockopt(u, IPPROTO_IP, MCAST_JOIN_GROUP, &gr, sizeof gr));
	T_CALL("MCAST_LEAVE_GROUP", setsockopt(u, IPPROTO_IP, MCAST_LEAVE_GROUP, &gr, sizeof gr));
	T_CALL("MCAST_LEAVE_GROUP again", setsockopt(u, IPPROTO_IP, MCAST_LEAVE_GROUP, &gr, sizeof gr));
	T_CALL("MCAST_JOIN_GROUP short", setsockopt(u, IPPROTO_IP, MCAST_JOIN_GROUP, &gr, 8));
	struct in_addr nowhere = { inet_addr("10.9.9.9") };
	T_CALL("IP_MULTICAST_IF unknown address", setsockopt(u, IPPROTO_IP, IP_MULTICAST_IF, &nowhere, sizeof nowhere));
	int t = socket(AF_INET, SOCK_STREAM, 0);
	struct in_addr lo = { inet_addr("127.0.0.1") };
	T_CALL("tcp IP_MULTICAST_IF", setsockopt(t, IPPROTO_IP, IP_MULTICAST_IF, &lo, sizeof lo));
	close(t);
	close(u);

	// On loopback: two members sharing a port, one non-member with
	// IP_MULTICAST_ALL, one without.
	int a = member(P + 5, "224.0.2.1", "127.0.0.1");
	int b = member(P + 5, "224.0.2.1", "127.0.0.1");
	int c = member(P + 5, NULL, NULL);
	int d = member(P + 5, NULL, NULL);
	ct_setint(d, IPPROTO_IP, IP_MULTICAST_ALL, 0);
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	T_CALL("IP_MULTICAST_IF 127.0.0.1", setsockopt(s, IPPROTO_IP, IP_MULTICAST_IF, &lo, sizeof lo));
	il = sizeof ifa;
	getsockopt(s, IPPROTO_IP, IP_MULTICAST_IF, &ifa, &il);
	t_log("  reads %s", inet_ntoa(ifa));
	struct sockaddr_in g1 = ct_addr("224.0.2.1", P + 5);
	T_CALL("sendto 224.0.2.1", sendto(s, "lo-group", 8, 0, (struct sockaddr *)&g1, sizeof g1));
	t_recvfrom("member a", a, 300);
	t_recvfrom("member b", b, 300);
	t_recvfrom("IP_MULTICAST_ALL c", c, 300);
	t_recvfrom("no IP_MULTICAST_ALL d", d, 300);
	m = mreq("224.0.2.1", "127.0.0.1");
	T_CALL("a drops", setsockopt(a, IPPROTO_IP, IP_DROP_MEMBERSHIP, &m, sizeof m));
	T_CALL("b drops", setsockopt(b, IPPROTO_IP, IP_DROP_MEMBERSHIP, &m, sizeof m));
	T_CALL("sendto 224.0.2.1", sendto(s, "gone", 4, 0, (struct sockaddr *)&g1, sizeof g1));
	t_recvfrom("member a", a, 300);
	t_recvfrom("IP_MULTICAST_ALL c", c, 300);
	close(s);

	// By the device: the kernel peer joined 224.0.2.2 there.
	int me = member(P, "224.0.2.2", SELF_IP);
	s = ct_udp(P + 6);
	struct in_addr self = { inet_addr(SELF_IP) };
	T_CALL("IP_MULTICAST_IF SELF_IP", setsockopt(s, IPPROTO_IP, IP_MULTICAST_IF, &self, sizeof self));
	struct sockaddr_in g2 = ct_addr("224.0.2.2", P);
	T_CALL("sendto 224.0.2.2", sendto(s, "dev-loop", 8, 0, (struct sockaddr *)&g2, sizeof g2));
	t_recvfrom("own member", me, 300);
	ct_setint(s, IPPROTO_IP, IP_MULTICAST_LOOP, 0);
	T_CALL("sendto 224.0.2.2 no loop", sendto(s, "dev-noloop", 10, 0, (struct sockaddr *)&g2, sizeof g2));
	t_recvfrom("own member", me, 300);
	ct_sleep_ms(200);
	ct_peer_report(P);
	return 0;
}
