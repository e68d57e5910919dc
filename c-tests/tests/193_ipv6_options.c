// CHECKS: IPPROTO_IPV6 options of AF_INET6 TCP and UDP sockets: IPV6_V6ONLY
// (default, set, refused after bind), IPV6_UNICAST_HOPS (default 64, set,
// -1 restores, 256 EINVAL), IPV6_TCLASS (TCP keeps the ECN bits, -1 is 0,
// 256 EINVAL), IPV6_RECVPKTINFO, IPV6_MULTICAST_HOPS (ENOPROTOOPT on TCP),
// IPV6_MULTICAST_LOOP (2 EINVAL), a 2-byte optlen (EINVAL), a short
// getsockopt buffer, an unknown option; IPPROTO_IPV6 on an AF_INET socket
// (set ENOPROTOOPT, get EOPNOTSUPP); IPPROTO_IP options on an AF_INET6
// socket.
// PEER: none
// IPV6: yes
// NORMALISED: nothing.
#include "trace.h"

#define P 21930

// IPPROTO_IPV6 options both socket types take (before bind).
static const struct ct_opt ipv6_opts[] = {
	CT_GET("V6ONLY", IPPROTO_IPV6, IPV6_V6ONLY),
	CT_SET("set V6ONLY 5", IPPROTO_IPV6, IPV6_V6ONLY, 5),
	CT_GET("V6ONLY", IPPROTO_IPV6, IPV6_V6ONLY),
	CT_SET("set V6ONLY 0", IPPROTO_IPV6, IPV6_V6ONLY, 0),
	CT_GET("UNICAST_HOPS", IPPROTO_IPV6, IPV6_UNICAST_HOPS),
	CT_SET("set UNICAST_HOPS 9", IPPROTO_IPV6, IPV6_UNICAST_HOPS, 9),
	CT_GET("UNICAST_HOPS", IPPROTO_IPV6, IPV6_UNICAST_HOPS),
	CT_SET("set UNICAST_HOPS 256", IPPROTO_IPV6, IPV6_UNICAST_HOPS, 256),
	CT_SET("set UNICAST_HOPS -2", IPPROTO_IPV6, IPV6_UNICAST_HOPS, -2),
	CT_SET("set UNICAST_HOPS -1", IPPROTO_IPV6, IPV6_UNICAST_HOPS, -1),
	CT_GET("UNICAST_HOPS", IPPROTO_IPV6, IPV6_UNICAST_HOPS),
	CT_GET("TCLASS", IPPROTO_IPV6, IPV6_TCLASS),
	CT_SET("set TCLASS 0xff", IPPROTO_IPV6, IPV6_TCLASS, 0xff),
	CT_GET("TCLASS", IPPROTO_IPV6, IPV6_TCLASS),
	CT_SET("set TCLASS -1", IPPROTO_IPV6, IPV6_TCLASS, -1),
	CT_GET("TCLASS", IPPROTO_IPV6, IPV6_TCLASS),
	CT_SET("set TCLASS 256", IPPROTO_IPV6, IPV6_TCLASS, 256),
	CT_GET("RECVPKTINFO", IPPROTO_IPV6, IPV6_RECVPKTINFO),
	CT_SET("set RECVPKTINFO 1", IPPROTO_IPV6, IPV6_RECVPKTINFO, 1),
	CT_GET("RECVPKTINFO", IPPROTO_IPV6, IPV6_RECVPKTINFO),
	CT_SET("set MULTICAST_HOPS 3", IPPROTO_IPV6, IPV6_MULTICAST_HOPS, 3),
	CT_GET("MULTICAST_HOPS", IPPROTO_IPV6, IPV6_MULTICAST_HOPS),
	CT_SET("set MULTICAST_LOOP 2", IPPROTO_IPV6, IPV6_MULTICAST_LOOP, 2),
	CT_SET("set MULTICAST_LOOP 0", IPPROTO_IPV6, IPV6_MULTICAST_LOOP, 0),
	CT_GET("MULTICAST_LOOP", IPPROTO_IPV6, IPV6_MULTICAST_LOOP),
};

static void common(int fd)
{
	T_OPTS(fd, ipv6_opts);
	short s = 1;
	T_CALL("set V6ONLY optlen 2", setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &s, sizeof s));
	unsigned char one = 0;
	socklen_t l1 = 1;
	T_CALL("get UNICAST_HOPS into 1 byte", getsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &one, &l1));
	t_log("  byte %u len %u", one, (unsigned)l1);
	t_getint("unknown option 9999", fd, IPPROTO_IPV6, 9999);
	t_setint("set IP_TTL 7 (IPPROTO_IP on AF_INET6)", fd, IPPROTO_IP, IP_TTL, 7);
	t_getint("IP_TTL", fd, IPPROTO_IP, IP_TTL);
	struct sockaddr_in6 a = ct_addr6("::", 0);
	T_CALL("bind [::]:0", bind(fd, (struct sockaddr *)&a, sizeof a));
	t_setint("set V6ONLY after bind", fd, IPPROTO_IPV6, IPV6_V6ONLY, 1);
	t_getint("V6ONLY", fd, IPPROTO_IPV6, IPV6_V6ONLY);
}

int main(void)
{
	t_log("-- tcp");
	int t = socket(AF_INET6, SOCK_STREAM, 0);
	common(t);
	close(t);
	t_log("-- udp");
	int u = socket(AF_INET6, SOCK_DGRAM, 0);
	common(u);
	close(u);
	t_log("-- AF_INET tcp");
	int f = socket(AF_INET, SOCK_STREAM, 0);
	t_setint("set V6ONLY", f, IPPROTO_IPV6, IPV6_V6ONLY, 1);
	t_getint("V6ONLY", f, IPPROTO_IPV6, IPV6_V6ONLY);
	close(f);
	t_log("-- AF_INET udp");
	f = socket(AF_INET, SOCK_DGRAM, 0);
	t_setint("set UNICAST_HOPS", f, IPPROTO_IPV6, IPV6_UNICAST_HOPS, 1);
	t_getint("UNICAST_HOPS", f, IPPROTO_IPV6, IPV6_UNICAST_HOPS);
	close(f);
	return 0;
}
