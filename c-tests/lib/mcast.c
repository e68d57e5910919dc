// mcast.c — multicast set-up shared by the multicast tests (290, 310, 311,
// 313, 315, 316).
#include "trace.h"

int ct_mcast_sender(const char *from)
{
	int s = ct_socket(SOCK_DGRAM);
	struct sockaddr_in a = ct_addr(from, 0);
	if (bind(s, (struct sockaddr *)&a, sizeof a) < 0)
		ct_die("bind sender");
	struct in_addr lo;
	inet_pton(AF_INET, "127.0.0.1", &lo);
	if (setsockopt(s, IPPROTO_IP, IP_MULTICAST_IF, &lo, sizeof lo) < 0)
		ct_die("IP_MULTICAST_IF");
	return s;
}

int t_mreq(int s, int opt, const char *group, const char *iface, const char *what)
{
	struct ip_mreq m;
	inet_pton(AF_INET, group, &m.imr_multiaddr);
	inet_pton(AF_INET, iface, &m.imr_interface);
	return T_CALL(what, setsockopt(s, IPPROTO_IP, opt, &m, sizeof m));
}

int t_mreq_source(int s, int opt, const char *group, const char *source, const char *what)
{
	struct ip_mreq_source m;
	inet_pton(AF_INET, group, &m.imr_multiaddr);
	inet_pton(AF_INET, SELF_IP, &m.imr_interface);
	inet_pton(AF_INET, source, &m.imr_sourceaddr);
	return T_CALL(what, setsockopt(s, IPPROTO_IP, opt, &m, sizeof m));
}

int ct_bound6(unsigned port)
{
	int s = socket(AF_INET6, SOCK_DGRAM, 0);
	if (s < 0)
		ct_die("socket6");
	ct_setint(s, SOL_SOCKET, SO_REUSEADDR, 1);
	struct sockaddr_in6 a = ct_addr6("::", port);
	if (bind(s, (struct sockaddr *)&a, sizeof a) < 0)
		ct_die("bind [::]:%u", port);
	return s;
}

void ct_mcast_step(const char *kind, const char *q, int n)
{
	static int seen;
	char name[32];
	if (q[0])
		ct_signal(q);
	seen += n;
	snprintf(name, sizeof name, "%s%d", kind, seen);
	ct_wait(name, 8000);
}
