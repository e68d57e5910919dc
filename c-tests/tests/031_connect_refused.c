// CHECKS: blocking connect to a port with no listener on the peer host:
// ECONNREFUSED; SO_ERROR afterwards is 0; a second connect on the same
// socket is refused again; then the same socket can connect to a listener.
// PEER: tcp 20312 recvall
// NORMALISED: ephemeral ports print as EPHEMERAL.
#include "trace.h"

#define P 20310

int main(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = ct_addr(PEER_IP, P);
	T_CALL("connect closed port", connect(fd, (struct sockaddr *)&a, sizeof a));
	T_EQ("SO_ERROR", ct_getint(fd, SOL_SOCKET, SO_ERROR), 0);
	t_peername("getpeername", fd);
	T_CALL("connect closed port again", connect(fd, (struct sockaddr *)&a, sizeof a));
	a.sin_port = htons(P + 2);
	T_CALL("connect to listener", connect(fd, (struct sockaddr *)&a, sizeof a));
	t_peername("getpeername", fd);
	close(fd);

	fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in b = ct_addr(SELF_IP, P + 5);
	bind(fd, (struct sockaddr *)&b, sizeof b);
	a.sin_port = htons(P);
	T_CALL("bound socket: connect closed port", connect(fd, (struct sockaddr *)&a, sizeof a));
	t_sockname("getsockname keeps the bound port", fd);
	ct_peer_report(P + 2);
	return 0;
}
