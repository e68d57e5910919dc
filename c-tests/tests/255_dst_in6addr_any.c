// CHECKS: destination :: means loopback on an AF_INET6 socket, as Linux's
// tcp_v6_connect, ip6_datagram_connect and udpv6_sendmsg make it: ::1
// whatever the socket is bound to (TCP connect to listeners on [::] and
// on ::1, UDP connect, sendto, sendmsg; peer and source read ::1), and
// ::ffff:127.0.0.1 for a socket bound to a v4-mapped address.
// PEER: none
// IPV6: yes
// NORMALISED: ephemeral ports print as EPHEMERAL.
#include "trace.h"

#define P 22550

static void recv_from(const char *what, int fd)
{
	char buf[16];
	struct sockaddr_in6 from;
	socklen_t fl = sizeof from;
	if (!ct_wait_event(fd, POLLIN, POLLIN, 5000))
		t_log("%s: nothing arrived", what);
	long n = T_CALL(what, recvfrom(fd, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr *)&from, &fl));
	t_data("  data", buf, n);
	if (n >= 0)
		t_log("  from %s", t_addrstr((struct sockaddr *)&from, fl));
}

static void tcp_to_any(const char *listen_on, unsigned port)
{
	t_log("== TCP listener on %s", listen_on);
	int l = socket(AF_INET6, SOCK_STREAM, 0);
	ct_setint(l, SOL_SOCKET, SO_REUSEADDR, 1);
	struct sockaddr_in6 la = ct_addr6(listen_on, port);
	T_CALL("bind", bind(l, (struct sockaddr *)&la, sizeof la));
	T_CALL("listen", listen(l, 4));
	int c = socket(AF_INET6, SOCK_STREAM, 0);
	struct sockaddr_in6 to = ct_addr6("::", port);
	T_CALL("connect [::]", connect(c, (struct sockaddr *)&to, sizeof to));
	t_peername("  getpeername", c);
	t_sockname("  getsockname", c);
	int a = ct_accept(l);
	t_peername("  accepted getpeername", a);
	T_CALL("send", send(c, "hello", 5, 0));
	char buf[16];
	ct_wait_bytes(a, 5, 5000);
	long n = T_CALL("recv", recv(a, buf, sizeof buf, 0));
	t_data("  data", buf, n);
	close(a);
	close(c);
	close(l);
}

int main(void)
{
	tcp_to_any("::", P + 5);
	tcp_to_any("::1", P + 6);

	t_log("== UDP");
	int r = socket(AF_INET6, SOCK_DGRAM, 0);
	struct sockaddr_in6 ra = ct_addr6("::", P + 7);
	T_CALL("udp bind [::]", bind(r, (struct sockaddr *)&ra, sizeof ra));
	int s = socket(AF_INET6, SOCK_DGRAM, 0);
	T_CALL("sendto [::]", sendto(s, "one", 3, 0, (struct sockaddr *)&ra, sizeof ra));
	t_sockname("  getsockname", s);
	recv_from("recvfrom", r);
	struct iovec iov = { .iov_base = "two", .iov_len = 3 };
	struct msghdr m = { .msg_name = &ra, .msg_namelen = sizeof ra, .msg_iov = &iov, .msg_iovlen = 1 };
	T_CALL("sendmsg [::]", sendmsg(s, &m, 0));
	recv_from("recvfrom", r);
	int u = socket(AF_INET6, SOCK_DGRAM, 0);
	T_CALL("udp connect [::]", connect(u, (struct sockaddr *)&ra, sizeof ra));
	t_peername("  getpeername", u);
	t_sockname("  getsockname", u);
	T_CALL("send", send(u, "three", 5, 0));
	recv_from("recvfrom", r);

	t_log("== bound to ::ffff:127.0.0.1");
	int um = socket(AF_INET6, SOCK_DGRAM, 0);
	struct sockaddr_in6 mapped = ct_addr6("::ffff:127.0.0.1", 0);
	T_CALL("bind ::ffff:127.0.0.1:0", bind(um, (struct sockaddr *)&mapped, sizeof mapped));
	T_CALL("udp connect [::]", connect(um, (struct sockaddr *)&ra, sizeof ra));
	t_peername("  getpeername", um);
	T_CALL("send", send(um, "four", 4, 0));
	recv_from("recvfrom", r);
	int tm = socket(AF_INET6, SOCK_STREAM, 0);
	T_CALL("tcp bind ::ffff:127.0.0.1:0", bind(tm, (struct sockaddr *)&mapped, sizeof mapped));
	struct sockaddr_in6 tto = ct_addr6("::", P + 8);
	T_CALL("tcp connect [::] (no listener)", connect(tm, (struct sockaddr *)&tto, sizeof tto));
	return 0;
}
