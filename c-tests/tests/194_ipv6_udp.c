// CHECKS: UDP over IPv6 inside one host: AF_INET6 sockets on [::1] and on
// [fd00:7::2] exchange datagrams (recvfrom gives the sender's sockaddr_in6,
// 28 bytes); a dual-stack [::] socket receives from an AF_INET socket as
// ::ffff:10.7.0.2 and replies through that address; connect + send over
// IPv6; a connected socket learns of a closed port (ICMPv6 port
// unreachable: ECONNREFUSED on the next recv); MSG_TRUNC length over IPv6.
// PEER: none
// IPV6: yes
// NORMALISED: ephemeral ports print as EPHEMERAL.
#include "trace.h"

#define P 21940

static void rx(const char *what, int fd)
{
	char b[64];
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	poll(&p, 1, 2000);
	errno = 0;
	long n = recvfrom(fd, b, sizeof b, MSG_DONTWAIT, (struct sockaddr *)&ss, &len);
	if (n < 0) {
		t_log("%s = -1 %s", what, t_errname(errno));
		return;
	}
	t_log("%s = %ld from %s len %u", what, n, t_addrstr((struct sockaddr *)&ss, len), (unsigned)len);
	t_data("  data", b, n);
}

static int udp6(const char *ip, unsigned port)
{
	int fd = socket(AF_INET6, SOCK_DGRAM, 0);
	struct sockaddr_in6 a = ct_addr6(ip, port);
	if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0)
		ct_die("bind udp6 %s", ip);
	return fd;
}

int main(void)
{
	int s = udp6("::", P);
	int c = udp6("::1", P + 1);
	struct sockaddr_in6 to = ct_addr6("::1", P);
	T_CALL("sendto [::1]", sendto(c, "one", 3, 0, (struct sockaddr *)&to, sizeof to));
	rx("server recvfrom", s);
	struct sockaddr_in6 back = ct_addr6("::1", P + 1);
	T_CALL("reply", sendto(s, "ONE", 3, 0, (struct sockaddr *)&back, sizeof back));
	rx("client recvfrom", c);

	int c2 = udp6(SELF_IP6, P + 2);
	to = ct_addr6(SELF_IP6, P);
	T_CALL("sendto [fd00:7::2]", sendto(c2, "two", 3, 0, (struct sockaddr *)&to, sizeof to));
	rx("server recvfrom", s);

	int c4 = ct_udp(P + 3);
	struct sockaddr_in to4 = ct_addr(SELF_IP, P);
	T_CALL("AF_INET sendto 10.7.0.2", sendto(c4, "four", 4, 0, (struct sockaddr *)&to4, sizeof to4));
	rx("server recvfrom", s);
	struct sockaddr_in6 m = ct_addr6("::ffff:10.7.0.2", P + 3);
	T_CALL("reply to ::ffff:10.7.0.2", sendto(s, "FOUR", 4, 0, (struct sockaddr *)&m, sizeof m));
	rx("AF_INET client recvfrom", c4);

	int k = socket(AF_INET6, SOCK_DGRAM, 0);
	to = ct_addr6(SELF_IP6, P);
	T_CALL("connect [fd00:7::2]", connect(k, (struct sockaddr *)&to, sizeof to));
	t_sockname("  getsockname", k);
	t_peername("  getpeername", k);
	T_CALL("send 20 bytes", send(k, "0123456789abcdefghij", 20, 0));
	char b[8];
	struct pollfd p = { .fd = s, .events = POLLIN };
	poll(&p, 1, 2000);
	T_CALL("recv 8 MSG_TRUNC", recv(s, b, sizeof b, MSG_TRUNC | MSG_DONTWAIT));

	int z = socket(AF_INET6, SOCK_DGRAM, 0);
	to = ct_addr6("::1", P + 9);
	T_CALL("connect closed port", connect(z, (struct sockaddr *)&to, sizeof to));
	T_CALL("send", send(z, "x", 1, 0));
	p.fd = z;
	p.events = POLLIN;
	T_CALL("poll", poll(&p, 1, 2000));
	t_revents("  revents", p.revents);
	T_CALL("recv", recv(z, b, sizeof b, MSG_DONTWAIT));
	T_CALL("recv again", recv(z, b, sizeof b, MSG_DONTWAIT));
	return 0;
}
