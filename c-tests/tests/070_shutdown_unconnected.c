// CHECKS: shutdown on a socket that is not connected: ENOTCONN for every
// `how` on a fresh TCP socket; invalid `how` is EINVAL; the failed shutdown
// still marks the socket (Linux: poll shows POLLHUP, and an unconnected UDP
// socket's later sendto fails with EPIPE).
// PEER: udp 20700 sink
// NORMALISED: nothing.
#include "trace.h"

#define P 20700

int main(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct pollfd p = { .fd = fd, .events = POLLIN | POLLOUT | POLLRDHUP };
	poll(&p, 1, 0);
	t_revents("poll fresh tcp", p.revents);
	T_CALL("shutdown RD", shutdown(fd, SHUT_RD));
	T_CALL("shutdown WR", shutdown(fd, SHUT_WR));
	T_CALL("shutdown RDWR", shutdown(fd, SHUT_RDWR));
	T_CALL("shutdown 3", shutdown(fd, 3));
	T_CALL("shutdown -1", shutdown(fd, -1));
	poll(&p, 1, 0);
	t_revents("poll after shutdown", p.revents);

	int u = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = ct_addr(PEER_IP, P);
	p.fd = u;
	poll(&p, 1, 0);
	t_revents("poll fresh udp", p.revents);
	T_CALL("udp shutdown WR", shutdown(u, SHUT_WR));
	poll(&p, 1, 0);
	t_revents("poll after udp shutdown", p.revents);
	T_CALL("udp sendto after shutdown", sendto(u, "x", 1, 0, (struct sockaddr *)&a, sizeof a));
	int u2 = socket(AF_INET, SOCK_DGRAM, 0);
	T_CALL("udp shutdown RD", shutdown(u2, SHUT_RD));
	char c;
	T_CALL("udp recv after shutdown RD", recv(u2, &c, 1, MSG_DONTWAIT));
	T_CALL("udp sendto after shutdown RD", sendto(u2, "y", 1, 0, (struct sockaddr *)&a, sizeof a));
	ct_peer_report(P);
	return 0;
}
