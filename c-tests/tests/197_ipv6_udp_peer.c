// CHECKS: UDP over IPv6 with a kernel echo peer (the IPv4 cases of 057,
// 058, 059 over AF_INET6): sendto/recvfrom [fd00:7::1] with the source
// address (28 bytes, and a short fromlen), connect + send/recv, a
// connected socket to a closed port gets ECONNREFUSED (ICMPv6 port
// unreachable from the kernel), a v4-mapped sendto to the peer's IPv4.
// PEER: udp 21970 echo
// IPV6: yes
// NORMALISED: nothing.
#include "trace.h"

#define P 21970

static void rx(const char *what, int fd)
{
	char b[64];
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	poll(&p, 1, 3000);
	errno = 0;
	long n = recvfrom(fd, b, sizeof b, MSG_DONTWAIT, (struct sockaddr *)&ss, &len);
	if (n < 0) {
		t_log("%s = -1 %s", what, t_errname(errno));
		return;
	}
	t_log("%s = %ld from %s len %u", what, n, t_addrstr((struct sockaddr *)&ss, len), (unsigned)len);
	t_data("  data", b, n);
}

int main(void)
{
	int fd = T_CALL("socket", socket(AF_INET6, SOCK_DGRAM, 0));
	struct sockaddr_in6 a = ct_addr6(PEER_IP6, P);
	T_CALL("sendto one", sendto(fd, "one", 3, 0, (struct sockaddr *)&a, sizeof a));
	rx("recvfrom", fd);
	T_CALL("sendto twotwo", sendto(fd, "twotwo", 6, 0, (struct sockaddr *)&a, sizeof a));
	unsigned char sb[40];
	memset(sb, 0xee, sizeof sb);
	socklen_t fl = 8;
	char buf[64];
	struct pollfd p = { .fd = fd, .events = POLLIN };
	poll(&p, 1, 3000);
	long n = T_CALL("recvfrom addrlen 8", recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)sb, &fl));
	t_data("  data", buf, n);
	t_log("  fromlen = %u, byte 8 = %02x", (unsigned)fl, sb[8]);

	int k = socket(AF_INET6, SOCK_DGRAM, 0);
	T_CALL("connect", connect(k, (struct sockaddr *)&a, sizeof a));
	t_peername("  getpeername", k);
	T_CALL("send", send(k, "conn", 4, 0));
	rx("recvfrom", k);

	int z = socket(AF_INET6, SOCK_DGRAM, 0);
	struct sockaddr_in6 closed = ct_addr6(PEER_IP6, P + 5);
	T_CALL("connect closed port", connect(z, (struct sockaddr *)&closed, sizeof closed));
	T_CALL("send", send(z, "x", 1, 0));
	p.fd = z;
	T_CALL("poll", poll(&p, 1, 3000));
	t_revents("  revents", p.revents);
	T_CALL("recv", recv(z, buf, sizeof buf, MSG_DONTWAIT));

	struct sockaddr_in6 m = ct_addr6("::ffff:10.7.0.1", P);
	T_CALL("sendto ::ffff:10.7.0.1", sendto(fd, "four", 4, 0, (struct sockaddr *)&m, sizeof m));
	rx("recvfrom", fd);
	return 0;
}
