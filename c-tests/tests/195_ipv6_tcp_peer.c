// CHECKS: TCP over IPv6 to a kernel peer (the IPv4 cases of 030, 031, 033
// over AF_INET6): blocking connect to [fd00:7::1], names (28 bytes), echo
// round trip, shutdown(SHUT_WR) and EOF; 256 KiB echoed back intact;
// connect to a closed port (ECONNREFUSED); non-blocking connect with
// EINPROGRESS then POLLOUT and SO_ERROR 0; a v4-mapped connect to the
// same peer over IPv4; the peer's report.
// PEER: tcp 21950 echo
// IPV6: yes
// NORMALISED: A's ephemeral ports print as EPHEMERAL.
#include "trace.h"

#define P 21950

static int conn6(const char *ip, unsigned port)
{
	int fd = socket(AF_INET6, SOCK_STREAM, 0);
	struct sockaddr_in6 a = ct_addr6(ip, port);
	T_CALL("connect", connect(fd, (struct sockaddr *)&a, sizeof a));
	return fd;
}

int main(void)
{
	int fd = conn6(PEER_IP6, P);
	t_sockname("  getsockname", fd);
	t_peername("  getpeername", fd);
	T_CALL("send", send(fd, "hello", 5, 0));
	char buf[16];
	ct_recv_all(fd, buf, 5);
	t_data("  echoed", buf, 5);
	static unsigned char big[262144], got[262144];
	ct_pattern(big, sizeof big, 0);
	ct_send_all(fd, big, sizeof big);
	ct_recv_all(fd, got, sizeof got);
	t_check("256 KiB echoed intact", !memcmp(big, got, sizeof big));
	T_CALL("shutdown SHUT_WR", shutdown(fd, SHUT_WR));
	T_CALL("recv EOF", recv(fd, buf, sizeof buf, 0));
	T_CALL("close", close(fd));

	fd = conn6(PEER_IP6, P + 5);
	close(fd);

	fd = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK, 0);
	struct sockaddr_in6 a = ct_addr6(PEER_IP6, P);
	T_CALL("non-blocking connect", connect(fd, (struct sockaddr *)&a, sizeof a));
	int ev = ct_wait_event(fd, POLLOUT, POLLOUT, 3000);
	t_revents("  revents", ev);
	T_EQ("  SO_ERROR", ct_getint(fd, SOL_SOCKET, SO_ERROR), 0);
	t_peername("  getpeername", fd);
	close(fd);

	fd = conn6("::ffff:10.7.0.1", P);
	t_sockname("  getsockname", fd);
	t_peername("  getpeername", fd);
	T_CALL("send", send(fd, "mapped", 6, 0));
	ct_recv_all(fd, buf, 6);
	t_data("  echoed", buf, 6);
	close(fd);
	ct_peer_report(P);
	return 0;
}
