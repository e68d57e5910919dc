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

static void get(const char *what, int fd, int level, int opt)
{
	int v = -7;
	socklen_t len = sizeof v;
	errno = 0;
	int rc = getsockopt(fd, level, opt, &v, &len);
	if (rc < 0)
		t_log("%s = -1 %s", what, t_errname(errno));
	else
		t_log("%s = %d len %u", what, v, (unsigned)len);
}

static void set(const char *what, int fd, int level, int opt, int v)
{
	T_CALL(what, setsockopt(fd, level, opt, &v, sizeof v));
}

static void common(int fd)
{
	get("V6ONLY", fd, IPPROTO_IPV6, IPV6_V6ONLY);
	set("set V6ONLY 5", fd, IPPROTO_IPV6, IPV6_V6ONLY, 5);
	get("V6ONLY", fd, IPPROTO_IPV6, IPV6_V6ONLY);
	set("set V6ONLY 0", fd, IPPROTO_IPV6, IPV6_V6ONLY, 0);
	get("UNICAST_HOPS", fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS);
	set("set UNICAST_HOPS 9", fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, 9);
	get("UNICAST_HOPS", fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS);
	set("set UNICAST_HOPS 256", fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, 256);
	set("set UNICAST_HOPS -2", fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, -2);
	set("set UNICAST_HOPS -1", fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, -1);
	get("UNICAST_HOPS", fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS);
	get("TCLASS", fd, IPPROTO_IPV6, IPV6_TCLASS);
	set("set TCLASS 0xff", fd, IPPROTO_IPV6, IPV6_TCLASS, 0xff);
	get("TCLASS", fd, IPPROTO_IPV6, IPV6_TCLASS);
	set("set TCLASS -1", fd, IPPROTO_IPV6, IPV6_TCLASS, -1);
	get("TCLASS", fd, IPPROTO_IPV6, IPV6_TCLASS);
	set("set TCLASS 256", fd, IPPROTO_IPV6, IPV6_TCLASS, 256);
	get("RECVPKTINFO", fd, IPPROTO_IPV6, IPV6_RECVPKTINFO);
	set("set RECVPKTINFO 1", fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1);
	get("RECVPKTINFO", fd, IPPROTO_IPV6, IPV6_RECVPKTINFO);
	set("set MULTICAST_HOPS 3", fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, 3);
	get("MULTICAST_HOPS", fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS);
	set("set MULTICAST_LOOP 2", fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, 2);
	set("set MULTICAST_LOOP 0", fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, 0);
	get("MULTICAST_LOOP", fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP);
	short s = 1;
	T_CALL("set V6ONLY optlen 2", setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &s, sizeof s));
	unsigned char one = 0;
	socklen_t l1 = 1;
	T_CALL("get UNICAST_HOPS into 1 byte", getsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &one, &l1));
	t_log("  byte %u len %u", one, (unsigned)l1);
	get("unknown option 9999", fd, IPPROTO_IPV6, 9999);
	set("set IP_TTL 7 (IPPROTO_IP on AF_INET6)", fd, IPPROTO_IP, IP_TTL, 7);
	get("IP_TTL", fd, IPPROTO_IP, IP_TTL);
	struct sockaddr_in6 a = ct_addr6("::", 0);
	T_CALL("bind [::]:0", bind(fd, (struct sockaddr *)&a, sizeof a));
	set("set V6ONLY after bind", fd, IPPROTO_IPV6, IPV6_V6ONLY, 1);
	get("V6ONLY", fd, IPPROTO_IPV6, IPV6_V6ONLY);
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
	set("set V6ONLY", f, IPPROTO_IPV6, IPV6_V6ONLY, 1);
	get("V6ONLY", f, IPPROTO_IPV6, IPV6_V6ONLY);
	close(f);
	t_log("-- AF_INET udp");
	f = socket(AF_INET, SOCK_DGRAM, 0);
	set("set UNICAST_HOPS", f, IPPROTO_IPV6, IPV6_UNICAST_HOPS, 1);
	get("UNICAST_HOPS", f, IPPROTO_IPV6, IPV6_UNICAST_HOPS);
	close(f);
	return 0;
}
