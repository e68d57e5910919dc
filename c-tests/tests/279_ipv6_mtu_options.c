// CHECKS: the IPv6 path MTU options as Linux: IPV6_MTU_DISCOVER (default
// WANT, 0..5), IPV6_MTU (set: 0 or at least 1280; get: ENOTCONN
// unconnected, the path's MTU connected: 1500 to the peer, 65536 to
// ::1), IPV6_MULTICAST_IF (an interface index, ENODEV for an unknown
// one, ENOPROTOOPT on TCP), IPV6_DONTFRAG; a 2000-byte datagram to the
// peer is fragmented by default and EMSGSIZE under IPV6_DONTFRAG or
// IPV6_PMTUDISC_DO, whole at 1400; IPV6_JOIN_GROUP on TCP is EPROTO.
// IPv4's IP_MTU and IP_MTU_DISCOVER DO the same way.
// PEER: udp 22790 sink
// IPV6: yes
// NORMALISED: nothing.
#include "trace.h"

#define P 22790

static const struct ct_opt udp6_opts[] = {
	CT_GET("IPV6_MTU_DISCOVER", IPPROTO_IPV6, IPV6_MTU_DISCOVER),
	CT_SET("set IPV6_MTU_DISCOVER 5", IPPROTO_IPV6, IPV6_MTU_DISCOVER, 5),
	CT_GET("IPV6_MTU_DISCOVER", IPPROTO_IPV6, IPV6_MTU_DISCOVER),
	CT_SET("set IPV6_MTU_DISCOVER 6", IPPROTO_IPV6, IPV6_MTU_DISCOVER, 6),
	CT_SET("set IPV6_MTU_DISCOVER 1", IPPROTO_IPV6, IPV6_MTU_DISCOVER, 1),
	CT_GET("IPV6_MTU unconnected", IPPROTO_IPV6, IPV6_MTU),
	CT_SET("set IPV6_MTU 1000", IPPROTO_IPV6, IPV6_MTU, 1000),
	CT_SET("set IPV6_MTU 1280", IPPROTO_IPV6, IPV6_MTU, 1280),
	CT_SET("set IPV6_MTU 0", IPPROTO_IPV6, IPV6_MTU, 0),
	CT_GET("IPV6_MULTICAST_IF", IPPROTO_IPV6, IPV6_MULTICAST_IF),
	CT_SET("set IPV6_MULTICAST_IF 1", IPPROTO_IPV6, IPV6_MULTICAST_IF, 1),
	CT_GET("IPV6_MULTICAST_IF", IPPROTO_IPV6, IPV6_MULTICAST_IF),
	CT_SET("set IPV6_MULTICAST_IF 999", IPPROTO_IPV6, IPV6_MULTICAST_IF, 999),
	CT_SET("set IPV6_MULTICAST_IF 0", IPPROTO_IPV6, IPV6_MULTICAST_IF, 0),
	CT_GET("IPV6_DONTFRAG", IPPROTO_IPV6, IPV6_DONTFRAG),
};

static const struct ct_opt tcp6_opts[] = {
	CT_GET("tcp IPV6_MTU_DISCOVER", IPPROTO_IPV6, IPV6_MTU_DISCOVER),
	CT_GET("tcp IPV6_MULTICAST_IF", IPPROTO_IPV6, IPV6_MULTICAST_IF),
	CT_SET("tcp set IPV6_MULTICAST_IF 1", IPPROTO_IPV6, IPV6_MULTICAST_IF, 1),
	CT_SET("tcp set IPV6_DONTFRAG 1", IPPROTO_IPV6, IPV6_DONTFRAG, 1),
	CT_GET("tcp IPV6_DONTFRAG", IPPROTO_IPV6, IPV6_DONTFRAG),
};

static char big[2000];

int main(void)
{
	int u = T_CALL("udp6 socket", socket(AF_INET6, SOCK_DGRAM, 0));
	T_OPTS(u, udp6_opts);

	struct sockaddr_in6 to = ct_addr6(PEER_IP6, P);
	T_CALL("sendto 2000", sendto(u, big, sizeof big, 0, (struct sockaddr *)&to, sizeof to));
	t_setint("set IPV6_DONTFRAG 1", u, IPPROTO_IPV6, IPV6_DONTFRAG, 1);
	t_getint("IPV6_DONTFRAG", u, IPPROTO_IPV6, IPV6_DONTFRAG);
	T_CALL("sendto 2000 DONTFRAG", sendto(u, big, sizeof big, 0, (struct sockaddr *)&to, sizeof to));
	T_CALL("sendto 1400 DONTFRAG", sendto(u, big, 1400, 0, (struct sockaddr *)&to, sizeof to));
	t_setint("set IPV6_DONTFRAG 0", u, IPPROTO_IPV6, IPV6_DONTFRAG, 0);
	t_setint("set IPV6_MTU_DISCOVER DO", u, IPPROTO_IPV6, IPV6_MTU_DISCOVER, IPV6_PMTUDISC_DO);
	T_CALL("sendto 2000 DO", sendto(u, big, sizeof big, 0, (struct sockaddr *)&to, sizeof to));
	T_CALL("connect peer", connect(u, (struct sockaddr *)&to, sizeof to));
	t_getint("IPV6_MTU to the peer", u, IPPROTO_IPV6, IPV6_MTU);
	close(u);

	u = T_CALL("udp6 socket", socket(AF_INET6, SOCK_DGRAM, 0));
	struct sockaddr_in6 lo = ct_addr6("::1", P + 5);
	T_CALL("connect ::1", connect(u, (struct sockaddr *)&lo, sizeof lo));
	t_getint("IPV6_MTU to ::1", u, IPPROTO_IPV6, IPV6_MTU);
	close(u);

	int t = T_CALL("tcp6 socket", socket(AF_INET6, SOCK_STREAM, 0));
	T_OPTS(t, tcp6_opts);
	struct ipv6_mreq m;
	memset(&m, 0, sizeof m);
	inet_pton(AF_INET6, "ff02::1234", &m.ipv6mr_multiaddr);
	m.ipv6mr_interface = 1;
	T_CALL("tcp IPV6_JOIN_GROUP", setsockopt(t, IPPROTO_IPV6, IPV6_JOIN_GROUP, &m, sizeof m));
	T_CALL("tcp IPV6_JOIN_GROUP short", setsockopt(t, IPPROTO_IPV6, IPV6_JOIN_GROUP, &m, 16));
	close(t);

	int v4 = T_CALL("udp4 socket", socket(AF_INET, SOCK_DGRAM, 0));
	struct sockaddr_in to4 = ct_addr(PEER_IP, P);
	t_getint("IP_MTU unconnected", v4, IPPROTO_IP, IP_MTU);
	t_setint("set IP_MTU_DISCOVER DO", v4, IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DO);
	T_CALL("sendto4 2000 DO", sendto(v4, big, sizeof big, 0, (struct sockaddr *)&to4, sizeof to4));
	T_CALL("sendto4 1400 DO", sendto(v4, big, 1400, 0, (struct sockaddr *)&to4, sizeof to4));
	t_setint("set IP_MTU_DISCOVER PROBE", v4, IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_PROBE);
	T_CALL("sendto4 2000 PROBE", sendto(v4, big, sizeof big, 0, (struct sockaddr *)&to4, sizeof to4));
	t_setint("set IP_MTU_DISCOVER WANT", v4, IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_WANT);
	T_CALL("sendto4 2000 WANT", sendto(v4, big, sizeof big, 0, (struct sockaddr *)&to4, sizeof to4));
	T_CALL("connect peer", connect(v4, (struct sockaddr *)&to4, sizeof to4));
	t_getint("IP_MTU to the peer", v4, IPPROTO_IP, IP_MTU);
	close(v4);
	v4 = T_CALL("udp4 socket", socket(AF_INET, SOCK_DGRAM, 0));
	struct sockaddr_in lo4 = ct_addr("127.0.0.1", P + 5);
	T_CALL("connect 127.0.0.1", connect(v4, (struct sockaddr *)&lo4, sizeof lo4));
	t_getint("IP_MTU to 127.0.0.1", v4, IPPROTO_IP, IP_MTU);
	close(v4);
	return 0;
}
