// CHECKS: the peer resets an idle connection: a blocked recv returns
// ECONNRESET, the next recv 0, send EPIPE, SO_ERROR 0.
// PEER: tcp 20840 wait:connected rst
// The peer resets only once A's connect has returned (wait:connected):
// a reset that arrives first fails the connect itself, on Linux too.
// NORMALISED: nothing.
#include "trace.h"

#define P 20840

int main(void)
{
	int fd = ct_connect(P);
	ct_signal("connected");
	char c;
	T_CALL("recv (blocks until the reset)", recv(fd, &c, 1, 0));
	T_CALL("recv", recv(fd, &c, 1, 0));
	T_CALL("send", send(fd, "x", 1, MSG_NOSIGNAL));
	T_EQ("SO_ERROR", ct_getint(fd, SOL_SOCKET, SO_ERROR), 0);
	struct pollfd p = { .fd = fd, .events = POLLIN | POLLOUT | POLLRDHUP };
	poll(&p, 1, 0);
	t_revents("poll", p.revents);
	return 0;
}
