// CHECKS: life cycle of AF_INET6 TCP connections with an IPv6 peer (the
// IPv4 cases of 084, 087, 014 over IPv6): a blocked recv returns
// ECONNRESET when the peer resets, then 0, send EPIPE; close with unread
// data sends a reset the peer sees; shutdown(SHUT_RDWR) then getpeername;
// a second connection after the first closed.
// PEER: tcp 21990 wait:connected rst
// PEER: tcp 21992 recv:3 wait:closed recvall
// IPV6: yes
// NORMALISED: A's ephemeral ports print as EPHEMERAL.
#include "trace.h"

#define P 21990

static int conn6(unsigned port)
{
	int fd = socket(AF_INET6, SOCK_STREAM, 0);
	struct sockaddr_in6 a = ct_addr6(PEER_IP6, port);
	if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
		ct_die("connect [%s]:%u", PEER_IP6, port);
	return fd;
}

int main(void)
{
	int fd = conn6(P);
	ct_signal("connected");
	char c;
	T_CALL("recv (blocks until the reset)", recv(fd, &c, 1, 0));
	T_CALL("recv", recv(fd, &c, 1, 0));
	T_CALL("send", send(fd, "x", 1, MSG_NOSIGNAL));
	T_CALL("close", close(fd));

	int g = conn6(P + 2);
	T_CALL("send abc", send(g, "abc", 3, 0));
	T_CALL("send def (unread by the peer)", send(g, "def", 3, 0));
	ct_sleep_ms(100);
	T_CALL("shutdown SHUT_RDWR", shutdown(g, SHUT_RDWR));
	t_peername("  getpeername", g);
	T_CALL("close", close(g));
	ct_signal("closed");
	ct_peer_report(P + 2);
	return 0;
}
