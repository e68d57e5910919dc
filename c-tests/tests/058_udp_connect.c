// CHECKS: UDP connect: send without an address, getpeername; sendto another
// port on a connected socket is allowed but replies from that port are
// filtered out; connect(AF_UNSPEC) dissolves the association (getpeername
// ENOTCONN, send EDESTADDRREQ, local address reset); reconnect to another.
// PEER: udp 20580 echo
// PEER: udp 20582 echo
// NORMALISED: ephemeral ports print as EPHEMERAL.
#include "trace.h"

#define P 20580

int main(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = ct_addr(PEER_IP, P), b = ct_addr(PEER_IP, P + 2);
	T_CALL("connect", connect(fd, (struct sockaddr *)&a, sizeof a));
	t_peername("getpeername", fd);
	t_sockname("getsockname", fd);
	T_CALL("send", send(fd, "hi", 2, 0));
	char buf[16];
	long n = T_CALL("recv", recv(fd, buf, sizeof buf, 0));
	t_data("  data", buf, n);
	T_CALL("sendto other port", sendto(fd, "other", 5, 0, (struct sockaddr *)&b, sizeof b));
	struct pollfd p = { .fd = fd, .events = POLLIN };
	T_CALL("poll 300 ms (reply from other port is filtered)", poll(&p, 1, 300));
	struct sockaddr_in u;
	memset(&u, 0, sizeof u);
	u.sin_family = AF_UNSPEC;
	T_CALL("connect AF_UNSPEC", connect(fd, (struct sockaddr *)&u, sizeof u));
	t_peername("getpeername", fd);
	t_sockname("getsockname", fd);
	T_CALL("send", send(fd, "x", 1, 0));
	T_CALL("connect AF_UNSPEC again", connect(fd, (struct sockaddr *)&u, sizeof u));
	T_CALL("connect other", connect(fd, (struct sockaddr *)&b, sizeof b));
	t_peername("getpeername", fd);
	T_CALL("send", send(fd, "b", 1, 0));
	n = T_CALL("recv", recv(fd, buf, sizeof buf, 0));
	t_data("  data", buf, n);
	ct_peer_report(P + 2);
	return 0;
}
