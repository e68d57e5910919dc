// CHECKS: family mismatches as Linux answers them: an AF_INET6 socket
// bound to a v4-mapped address gets EAFNOSUPPORT for an IPv6 destination
// (TCP and UDP connect, UDP sendto, also once connected v4-mapped); one
// bound to an IPv6 address gets ENETUNREACH for a v4-mapped destination;
// socketpair on AF_INET/AF_INET6 checks the type and protocol first
// (ESOCKTNOSUPPORT, EPROTONOSUPPORT), then EOPNOTSUPP.
// PEER: none
// IPV6: yes
// NORMALISED: nothing.
#include "trace.h"

#define P 22610

static int bound6(int type, const char *ip)
{
	int s = socket(AF_INET6, type, 0);
	struct sockaddr_in6 a = ct_addr6(ip, 0);
	if (bind(s, (struct sockaddr *)&a, sizeof a) < 0)
		ct_die("bind %s", ip);
	return s;
}

int main(void)
{
	struct sockaddr_in6 v6 = ct_addr6("::1", P);
	struct sockaddr_in6 mapped = ct_addr6("::ffff:127.0.0.1", P);
	int s = bound6(SOCK_STREAM, "::ffff:127.0.0.1");
	T_CALL("tcp bound v4-mapped, connect [::1]", connect(s, (struct sockaddr *)&v6, sizeof v6));
	close(s);
	s = bound6(SOCK_DGRAM, "::ffff:127.0.0.1");
	T_CALL("udp bound v4-mapped, connect [::1]", connect(s, (struct sockaddr *)&v6, sizeof v6));
	T_CALL("udp bound v4-mapped, sendto [::1]", sendto(s, "x", 1, 0, (struct sockaddr *)&v6, sizeof v6));
	close(s);
	s = socket(AF_INET6, SOCK_DGRAM, 0);
	T_CALL("udp connect v4-mapped", connect(s, (struct sockaddr *)&mapped, sizeof mapped));
	T_CALL("  then sendto [::1]", sendto(s, "x", 1, 0, (struct sockaddr *)&v6, sizeof v6));
	close(s);
	s = bound6(SOCK_DGRAM, "::1");
	T_CALL("udp bound ::1, sendto v4-mapped", sendto(s, "x", 1, 0, (struct sockaddr *)&mapped, sizeof mapped));
	T_CALL("udp bound ::1, connect v4-mapped", connect(s, (struct sockaddr *)&mapped, sizeof mapped));
	close(s);
	s = bound6(SOCK_STREAM, "::1");
	T_CALL("tcp bound ::1, connect v4-mapped", connect(s, (struct sockaddr *)&mapped, sizeof mapped));
	close(s);

	int sv[2];
	T_CALL("socketpair(AF_INET, 0, 0)", socketpair(AF_INET, 0, 0, sv));
	T_CALL("socketpair(AF_INET6, 0, 0)", socketpair(AF_INET6, 0, 0, sv));
	T_CALL("socketpair(AF_INET, SOCK_STREAM, 0)", socketpair(AF_INET, SOCK_STREAM, 0, sv));
	T_CALL("socketpair(AF_INET6, SOCK_DGRAM, 0)", socketpair(AF_INET6, SOCK_DGRAM, 0, sv));
	T_CALL("socketpair(AF_INET, SOCK_STREAM, IPPROTO_UDP)", socketpair(AF_INET, SOCK_STREAM, IPPROTO_UDP, sv));
	return 0;
}
