// CHECKS: the IPv6 receive options and their control messages, as Linux's
// udpv6_recvmsg gives them: IPV6_RECVPKTINFO, IPV6_RECVHOPLIMIT,
// IPV6_RECVTCLASS, IPV6_RECVORIGDSTADDR and IPV6_RECVERR default to 0 and
// read back what was set; a datagram over ::1 then carries IPV6_PKTINFO
// (address, ifindex lo), IPV6_HOPLIMIT and IPV6_TCLASS (as the sender set
// them), IPV6_ORIGDSTADDR, after SO_TIMESTAMP, in that order; an IPv4
// datagram to the dual-stack socket carries IPV6_PKTINFO with the
// v4-mapped destination, then the IPPROTO_IP records asked for (IP_TTL),
// and none of the IPv6-only ones; options off, no control message.
// PEER: none
// IPV6: yes
// NORMALISED: timestamps print only as "within 5 s of now".
#include "trace.h"

#define P 22570

int main(void)
{
	static const struct { int opt; const char *name; } opts[] = {
		{ IPV6_RECVPKTINFO, "IPV6_RECVPKTINFO" }, { IPV6_RECVHOPLIMIT, "IPV6_RECVHOPLIMIT" },
		{ IPV6_RECVTCLASS, "IPV6_RECVTCLASS" },   { IPV6_RECVORIGDSTADDR, "IPV6_RECVORIGDSTADDR" },
		{ IPV6_RECVERR, "IPV6_RECVERR" },
	};
	int r = socket(AF_INET6, SOCK_DGRAM, 0);
	struct sockaddr_in6 ra = ct_addr6("::", P + 5);
	T_CALL("bind [::]", bind(r, (struct sockaddr *)&ra, sizeof ra));
	for (unsigned i = 0; i < sizeof opts / sizeof opts[0]; i++) {
		t_log("%s default %d", opts[i].name, ct_getint(r, IPPROTO_IPV6, opts[i].opt));
		ct_setint(r, IPPROTO_IPV6, opts[i].opt, 1);
		t_log("%s set %d", opts[i].name, ct_getint(r, IPPROTO_IPV6, opts[i].opt));
	}
	ct_setint(r, IPPROTO_IPV6, IPV6_RECVERR, 0);
	ct_setint(r, SOL_SOCKET, SO_TIMESTAMP, 1);

	int s = socket(AF_INET6, SOCK_DGRAM, 0);
	ct_setint(s, IPPROTO_IPV6, IPV6_TCLASS, 0x28);
	ct_setint(s, IPPROTO_IPV6, IPV6_UNICAST_HOPS, 33);
	struct sockaddr_in6 lo = ct_addr6("::1", P + 5);
	T_CALL("sendto ::1", sendto(s, "six", 3, 0, (struct sockaddr *)&lo, sizeof lo));
	t_recvmsg_cmsgs("recvmsg", r, 512);

	int s4 = ct_socket(SOCK_DGRAM);
	ct_setint(s4, IPPROTO_IP, IP_TTL, 44);
	ct_setint(r, IPPROTO_IP, IP_RECVTTL, 1);
	struct sockaddr_in lo4 = ct_addr("127.0.0.1", P + 5);
	T_CALL("sendto 127.0.0.1 (AF_INET)", sendto(s4, "four", 4, 0, (struct sockaddr *)&lo4, sizeof lo4));
	t_recvmsg_cmsgs("recvmsg", r, 512);

	for (unsigned i = 0; i < sizeof opts / sizeof opts[0]; i++)
		ct_setint(r, IPPROTO_IPV6, opts[i].opt, 0);
	ct_setint(r, SOL_SOCKET, SO_TIMESTAMP, 0);
	ct_setint(r, IPPROTO_IP, IP_RECVTTL, 0);
	T_CALL("sendto ::1", sendto(s, "none", 4, 0, (struct sockaddr *)&lo, sizeof lo));
	t_recvmsg_cmsgs("recvmsg, options off", r, 512);
	return 0;
}
