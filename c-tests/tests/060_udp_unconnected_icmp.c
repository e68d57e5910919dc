// CHECKS: an unconnected UDP socket ignores ICMP port unreachable: after a
// sendto to a closed port nothing is reported (poll 300 ms: no event,
// recvfrom EAGAIN, SO_ERROR 0).
// PEER: none
// NORMALISED: nothing.
#include "trace.h"

#define P 20600

int main(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = ct_addr(PEER_IP, P);
	T_CALL("sendto closed port", sendto(fd, "x", 1, 0, (struct sockaddr *)&a, sizeof a));
	struct pollfd p = { .fd = fd, .events = POLLIN };
	T_CALL("poll 300 ms", poll(&p, 1, 300));
	t_revents("  revents", p.revents);
	char buf[8];
	T_CALL("recvfrom DONTWAIT", recvfrom(fd, buf, sizeof buf, MSG_DONTWAIT, NULL, NULL));
	T_EQ("SO_ERROR", ct_getint(fd, SOL_SOCKET, SO_ERROR), 0);
	T_CALL("sendto again", sendto(fd, "x", 1, 0, (struct sockaddr *)&a, sizeof a));
	return 0;
}
