// CHECKS: listen on UDP (EOPNOTSUPP), on a connected TCP socket (EINVAL),
// twice (fine), with a negative backlog (fine), SO_ACCEPTCONN before/after.
// PEER: tcp 20200 recvall
// NORMALISED: nothing.
#include "trace.h"

#define P 20200

int main(void)
{
	int u = socket(AF_INET, SOCK_DGRAM, 0);
	T_CALL("listen udp", listen(u, 5));
	int c = ct_connect(P);
	T_CALL("listen connected tcp", listen(c, 5));
	int l = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = ct_addr(SELF_IP, P + 5);
	bind(l, (struct sockaddr *)&a, sizeof a);
	T_EQ("SO_ACCEPTCONN before listen", ct_getint(l, SOL_SOCKET, SO_ACCEPTCONN), 0);
	T_CALL("listen 5", listen(l, 5));
	T_CALL("listen again 10", listen(l, 10));
	T_CALL("listen -1", listen(l, -1));
	T_CALL("listen 1000000", listen(l, 1000000));
	T_EQ("SO_ACCEPTCONN after listen", ct_getint(l, SOL_SOCKET, SO_ACCEPTCONN), 1);
	T_CALL("connect on listener", connect(l, (struct sockaddr *)&a, sizeof a));
	close(c);
	ct_peer_report(P);
	return 0;
}
