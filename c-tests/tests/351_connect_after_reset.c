// CHECKS: connect() again on a TCP socket whose connection the peer reset
// (ECONNRESET read) gives EISCONN, as Linux (the socket stays "connected"
// at the socket level: only a failed connect makes it connectable again);
// getsockname still shows the connection's address; a new socket connects.
// PEER: tcp 23510 wait:connected rst
// PEER: tcp 23515 recvall
// The peer resets only once A's connect has returned (wait:connected):
// a reset that arrives first fails the connect itself, on Linux too.
// NORMALISED: ephemeral ports print as EPHEMERAL.
#include "trace.h"

#define P 23510

int main(void)
{
	int fd = ct_connect(P);
	ct_signal("connected");
	char c;
	t_revents("poll", ct_wait_event(fd, POLLIN, POLLIN, 5000));
	long r = recv(fd, &c, 1, 0);
	t_ret("recv", r, errno);
	struct sockaddr_in a;
	socklen_t n = sizeof a;
	T_CALL("getsockname", getsockname(fd, (struct sockaddr *)&a, &n));
	t_log("  address %s", t_addrstr((struct sockaddr *)&a, n));
	struct sockaddr_in peer = ct_addr(PEER_IP, P + 5);
	T_CALL("connect again, to a listener", connect(fd, (struct sockaddr *)&peer, sizeof peer));
	T_CALL("connect again, same peer", connect(fd, (struct sockaddr *)&peer, sizeof peer));
	int e = 0;
	socklen_t el = sizeof e;
	T_CALL("SO_ERROR", getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el));
	t_log("  error %s", e ? t_errname(e) : "0");
	close(fd);
	int fd2 = ct_connect(P + 5);
	T_CALL("new socket sends", send(fd2, "hi", 2, 0));
	close(fd2);
	ct_peer_report(P + 5);
	return 0;
}
