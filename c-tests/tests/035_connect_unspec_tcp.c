// CHECKS: connect(AF_UNSPEC) on a connected TCP socket disconnects it (the
// peer sees a reset), getpeername then fails, and the same socket can
// connect again.
// PEER: tcp 20350 recvall
// NORMALISED: nothing.
#include "trace.h"

#define P 20350

int main(void)
{
	int fd = ct_connect(P);
	T_CALL("send", send(fd, "abc", 3, 0));
	struct sockaddr_in u;
	memset(&u, 0, sizeof u);
	u.sin_family = AF_UNSPEC;
	T_CALL("connect AF_UNSPEC", connect(fd, (struct sockaddr *)&u, sizeof u));
	t_peername("getpeername", fd);
	char c;
	T_CALL("recv", recv(fd, &c, 1, MSG_DONTWAIT));
	struct sockaddr_in a = ct_addr(PEER_IP, P);
	T_CALL("connect again", connect(fd, (struct sockaddr *)&a, sizeof a));
	T_CALL("send", send(fd, "def", 3, 0));
	T_CALL("close", close(fd));
	ct_peer_report(P);
	return 0;
}
