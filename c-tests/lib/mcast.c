// mcast.c — multicast set-up shared by the multicast tests (290, 311).
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
