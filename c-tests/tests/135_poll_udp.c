// CHECKS: UDP readiness: POLLOUT only when idle; POLLIN once a datagram is
// queued, gone after reading it; POLLERR on a connected socket after an ICMP
// port unreachable, cleared by reading the error.
// PEER: udp 21350 wait:bound sendto:21355:ping
// NORMALISED: nothing.
#include "trace.h"

#define P 21350
#define EV (POLLIN | POLLOUT | POLLRDHUP)

static void show(const char *what, int fd)
{
	struct pollfd p = { .fd = fd, .events = EV };
	poll(&p, 1, 0);
	t_revents(what, p.revents);
}

int main(void)
{
	int fd = ct_udp(P + 5);
	show("bound, idle", fd);
	ct_signal("bound");
	t_revents("datagram queued", ct_wait_event(fd, EV, POLLIN, 5000));
	char buf[8];
	recv(fd, buf, sizeof buf, 0);
	show("after reading", fd);
	int c = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = ct_addr(PEER_IP, P + 8);
	connect(c, (struct sockaddr *)&a, sizeof a);
	send(c, "x", 1, 0);
	t_revents("connected, after ICMP", ct_wait_event(c, EV, POLLERR, 5000));
	T_CALL("recv", recv(c, buf, sizeof buf, 0));
	show("after reading the error", c);
	return 0;
}
