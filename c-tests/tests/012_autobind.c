// CHECKS: implicit binding: TCP connect without bind gets 10.7.0.2 and an
// ephemeral port; listen without bind gets 0.0.0.0 and an ephemeral port;
// UDP sendto without bind gets 0.0.0.0:ephemeral; UDP connect gets
// 10.7.0.2:ephemeral; the peer sees the same ports.
// PEER: tcp 20120 recvall
// PEER: udp 20122 sink
// NORMALISED: ephemeral ports print as EPHEMERAL (checked in range).
#include "trace.h"

#define P 20120

int main(void)
{
	int t = ct_connect(P);
	t_sockname("tcp after connect: getsockname", t);
	t_peername("tcp after connect: getpeername", t);
	close(t);

	int l = socket(AF_INET, SOCK_STREAM, 0);
	T_CALL("listen unbound", listen(l, 5));
	t_sockname("listener: getsockname", l);
	T_EQ("listener SO_ACCEPTCONN", ct_getint(l, SOL_SOCKET, SO_ACCEPTCONN), 1);

	int u = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = ct_addr(PEER_IP, P + 2);
	T_CALL("udp sendto unbound", sendto(u, "x", 1, 0, (struct sockaddr *)&a, sizeof a));
	t_sockname("udp after sendto: getsockname", u);
	t_peername("udp after sendto: getpeername", u);

	int c = socket(AF_INET, SOCK_DGRAM, 0);
	T_CALL("udp connect unbound", connect(c, (struct sockaddr *)&a, sizeof a));
	t_sockname("udp after connect: getsockname", c);
	t_peername("udp after connect: getpeername", c);
	T_CALL("udp send", send(c, "yy", 2, 0));
	ct_peer_report(P);
	ct_peer_report(P + 2);
	return 0;
}
