// CHECKS: destination 0.0.0.0 means this host, as Linux routes it: an
// unbound socket reaches 127.0.0.1 (TCP connect, UDP connect, sendto,
// sendmsg; the peer and source addresses read 127.0.0.1), a socket bound to
// SELF_IP reaches SELF_IP; a listener bound to SELF_IP only is not reached
// from an unbound socket (ECONNREFUSED, the SYN went to 127.0.0.1).
// PEER: none
// NORMALISED: ephemeral ports print as EPHEMERAL.
#include "trace.h"

#define P 22400

static struct sockaddr_in any(unsigned port)
{
	return ct_addr("0.0.0.0", port);
}

static void recv_from(const char *what, int fd)
{
	char buf[16];
	struct sockaddr_in from;
	socklen_t fl = sizeof from;
	if (!ct_wait_event(fd, POLLIN, POLLIN, 5000))
		t_log("%s: nothing arrived", what);
	long n = T_CALL(what, recvfrom(fd, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr *)&from, &fl));
	t_data("  data", buf, n);
	if (n >= 0)
		t_log("  from %s", t_addrstr((struct sockaddr *)&from, fl));
}

int main(void)
{
	// TCP: a wildcard listener, reached through 0.0.0.0.
	int l = socket(AF_INET, SOCK_STREAM, 0);
	ct_setint(l, SOL_SOCKET, SO_REUSEADDR, 1);
	struct sockaddr_in la = any(P + 5);
	T_CALL("bind 0.0.0.0", bind(l, (struct sockaddr *)&la, sizeof la));
	T_CALL("listen", listen(l, 4));
	int c = socket(AF_INET, SOCK_STREAM, 0);
	T_CALL("tcp connect 0.0.0.0", connect(c, (struct sockaddr *)&la, sizeof la));
	t_peername("  getpeername", c);
	t_sockname("  getsockname", c);
	int a = ct_accept(l);
	t_peername("  accepted getpeername", a);
	t_sockname("  accepted getsockname", a);
	T_CALL("send", send(c, "hello", 5, 0));
	char buf[16];
	ct_wait_bytes(a, 5, 5000);
	long n = T_CALL("recv", recv(a, buf, sizeof buf, 0));
	t_data("  data", buf, n);
	close(a);
	close(c);

	// A listener on SELF_IP only.
	int l2 = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in self = ct_addr(SELF_IP, P + 6);
	T_CALL("bind SELF_IP", bind(l2, (struct sockaddr *)&self, sizeof self));
	T_CALL("listen", listen(l2, 4));
	struct sockaddr_in to6 = any(P + 6);
	c = socket(AF_INET, SOCK_STREAM, 0);
	T_CALL("unbound connect 0.0.0.0 (to 127.0.0.1)", connect(c, (struct sockaddr *)&to6, sizeof to6));
	close(c);
	c = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in self0 = ct_addr(SELF_IP, 0);
	T_CALL("bind SELF_IP:0", bind(c, (struct sockaddr *)&self0, sizeof self0));
	T_CALL("bound connect 0.0.0.0 (to SELF_IP)", connect(c, (struct sockaddr *)&to6, sizeof to6));
	t_peername("  getpeername", c);
	close(c);

	// UDP.
	int r = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in ra = any(P + 7);
	T_CALL("udp bind 0.0.0.0", bind(r, (struct sockaddr *)&ra, sizeof ra));
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	T_CALL("sendto 0.0.0.0", sendto(s, "one", 3, 0, (struct sockaddr *)&ra, sizeof ra));
	t_sockname("  getsockname", s);
	recv_from("recvfrom", r);
	struct iovec iov = { .iov_base = "two", .iov_len = 3 };
	struct msghdr m = { .msg_name = &ra, .msg_namelen = sizeof ra, .msg_iov = &iov, .msg_iovlen = 1 };
	T_CALL("sendmsg 0.0.0.0", sendmsg(s, &m, 0));
	recv_from("recvfrom", r);
	int u = socket(AF_INET, SOCK_DGRAM, 0);
	T_CALL("udp connect 0.0.0.0", connect(u, (struct sockaddr *)&ra, sizeof ra));
	t_peername("  getpeername", u);
	t_sockname("  getsockname", u);
	T_CALL("send", send(u, "three", 5, 0));
	recv_from("recvfrom", r);
	int ub = socket(AF_INET, SOCK_DGRAM, 0);
	T_CALL("bind SELF_IP:0", bind(ub, (struct sockaddr *)&self0, sizeof self0));
	T_CALL("bound sendto 0.0.0.0", sendto(ub, "four", 4, 0, (struct sockaddr *)&ra, sizeof ra));
	recv_from("recvfrom", r);
	return 0;
}
