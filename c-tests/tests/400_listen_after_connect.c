// CHECKS: listen() on a TCP socket that has been through connect(): EINVAL
// once the socket layer saw a connection (Linux's inet_listen wants
// sock->state SS_UNCONNECTED), even after the connection is over: reset by
// the peer, refused (blocking and non-blocking, SO_ERROR read or not),
// closed in order, dissolved by connect(AF_UNSPEC) (Linux 6.18). A socket
// whose connect failed before its SYN (multicast: ENETUNREACH), or a fresh
// one given connect(AF_UNSPEC), may listen.
// PEER: tcp 24000 wait:connected rst
// PEER: tcp 24005 close
// PEER: tcp 24007 recvall
// NORMALISED: nothing; the waits are polls bounded by 5 s.
#include "trace.h"

#define P 24000

static void say_error(int fd)
{
	int e = 0;
	socklen_t el = sizeof e;
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el);
	t_log("  SO_ERROR %s", e ? t_errname(e) : "0");
}

int main(void)
{
	struct sockaddr_in none = ct_addr(PEER_IP, P + 9);

	// Reset by the peer once connected; nothing read.
	int fd = ct_connect(P);
	ct_signal("connected");
	t_revents("reset: poll", ct_wait_event(fd, POLLIN, POLLHUP, 5000));
	T_CALL("reset: listen", listen(fd, 5));
	close(fd);

	// A non-blocking connect refused: before and after SO_ERROR.
	fd = ct_socket(SOCK_STREAM);
	ct_set_nonblock(fd, 1);
	T_CALL("nonblocking refused: connect", connect(fd, (struct sockaddr *)&none, sizeof none));
	t_revents("nonblocking refused: poll", ct_wait_event(fd, POLLOUT, POLLERR, 5000));
	T_CALL("nonblocking refused: listen", listen(fd, 5));
	say_error(fd);
	T_CALL("nonblocking refused: listen again", listen(fd, 5));
	close(fd);

	// A blocking connect refused.
	fd = ct_socket(SOCK_STREAM);
	T_CALL("refused: connect", connect(fd, (struct sockaddr *)&none, sizeof none));
	T_CALL("refused: listen", listen(fd, 5));
	close(fd);

	// Closed in order: the peer's FIN, then ours.
	fd = ct_connect(P + 5);
	t_revents("closed: poll", ct_wait_event(fd, POLLIN, POLLIN, 5000));
	char c;
	T_CALL("closed: recv", recv(fd, &c, 1, 0));
	T_CALL("closed: shutdown", shutdown(fd, SHUT_RDWR));
	T_CALL("closed: listen", listen(fd, 5));
	close(fd);

	// connect(AF_UNSPEC) dissolves the connection: still no listen().
	fd = ct_connect(P + 7);
	struct sockaddr unspec = { .sa_family = AF_UNSPEC };
	T_CALL("unspec: connect AF_UNSPEC", connect(fd, &unspec, sizeof unspec));
	T_CALL("unspec: listen", listen(fd, 5));
	T_EQ("unspec: SO_ACCEPTCONN", ct_getint(fd, SOL_SOCKET, SO_ACCEPTCONN), 0);
	close(fd);

	// No SYN was ever sent: listen() is allowed.
	fd = ct_socket(SOCK_STREAM);
	struct sockaddr_in mcast = ct_addr("224.0.0.1", P + 9);
	T_CALL("multicast: connect", connect(fd, (struct sockaddr *)&mcast, sizeof mcast));
	T_CALL("multicast: listen", listen(fd, 5));
	close(fd);
	fd = ct_socket(SOCK_STREAM);
	T_CALL("fresh: connect AF_UNSPEC", connect(fd, &unspec, sizeof unspec));
	T_CALL("fresh: listen", listen(fd, 5));
	T_EQ("fresh: SO_ACCEPTCONN", ct_getint(fd, SOL_SOCKET, SO_ACCEPTCONN), 1);
	close(fd);
	ct_peer_report(P + 7);
	return 0;
}
