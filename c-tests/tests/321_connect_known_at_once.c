// CHECKS: blocking connects whose outcome is known before any packet
// comes back, each on a socket the program holds alone (with the stack
// service such a connect goes without a reply, and the outcome comes with
// the wake-up): a multicast destination (ENETUNREACH), then the same
// socket connects (0) and again (EISCONN); a second socket bound to the
// first one's port (SO_REUSEADDR) connecting to the same peer
// (EADDRNOTAVAIL: the four-tuple is taken), then to another port of the
// peer (0).
// PEER: tcp 23210 recvall
// PEER: tcp 23212 recvall
// NORMALISED: nothing.
#include "trace.h"

#define P 23210

int main(void)
{
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = ct_addr(PEER_IP, P);
	struct sockaddr_in mc = ct_addr("224.0.0.1", P);
	T_CALL("connect 224.0.0.1", connect(fd, (struct sockaddr *)&mc, sizeof mc));
	T_CALL("setsockopt SO_REUSEADDR", setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one));
	struct sockaddr_in me = ct_addr("10.7.0.2", 40321);
	T_CALL("bind 10.7.0.2:40321", bind(fd, (struct sockaddr *)&me, sizeof me));
	T_CALL("connect", connect(fd, (struct sockaddr *)&a, sizeof a));
	T_CALL("connect again", connect(fd, (struct sockaddr *)&a, sizeof a));
	int fd2 = socket(AF_INET, SOCK_STREAM, 0);
	T_CALL("setsockopt SO_REUSEADDR", setsockopt(fd2, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one));
	T_CALL("bind 10.7.0.2:40321", bind(fd2, (struct sockaddr *)&me, sizeof me));
	T_CALL("connect same peer", connect(fd2, (struct sockaddr *)&a, sizeof a));
	struct sockaddr_in b = ct_addr(PEER_IP, P + 2);
	T_CALL("connect other port", connect(fd2, (struct sockaddr *)&b, sizeof b));
	close(fd);
	close(fd2);
	ct_peer_report(P);
	ct_peer_report(P + 2);
	return 0;
}
