// CHECKS: a non-blocking connect whose SYNs go unanswered (the peer's
// listen queue is full, so its kernel drops them): EINPROGRESS, then
// EALREADY on the next connect, poll times out with no events, SO_ERROR 0.
// PEER: tcp 20360 backlog:0 fill:1 noaccept
// NORMALISED: nothing.
#include "trace.h"

#define P 20360

int main(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	struct sockaddr_in a = ct_addr(PEER_IP, P);
	T_CALL("connect", connect(fd, (struct sockaddr *)&a, sizeof a));
	T_CALL("connect again", connect(fd, (struct sockaddr *)&a, sizeof a));
	struct pollfd p = { .fd = fd, .events = POLLIN | POLLOUT };
	T_CALL("poll 300 ms", poll(&p, 1, 300));
	t_revents("  revents", p.revents);
	T_EQ("SO_ERROR", ct_getint(fd, SOL_SOCKET, SO_ERROR), 0);
	t_peername("getpeername", fd);
	char c;
	T_CALL("send", send(fd, "x", 1, MSG_NOSIGNAL));
	T_CALL("recv", recv(fd, &c, 1, 0));
	T_CALL("close", close(fd));
	return 0;
}
