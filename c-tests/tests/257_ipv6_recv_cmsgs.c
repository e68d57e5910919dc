// CHECKS: the IPv6 receive options and their control messages, as Linux's
// udpv6_recvmsg gives them: IPV6_RECVPKTINFO, IPV6_RECVHOPLIMIT,
// IPV6_RECVTCLASS, IPV6_RECVORIGDSTADDR and IPV6_RECVERR default to 0 and
// read back what was set; a datagram over ::1 then carries IPV6_PKTINFO
// (address, ifindex lo), IPV6_HOPLIMIT and IPV6_TCLASS (as the sender set
// them), IPV6_ORIGDSTADDR, after SO_TIMESTAMP, in that order; an IPv4
// datagram to the dual-stack socket carries IPV6_PKTINFO with the
// v4-mapped destination, then the IPPROTO_IP records asked for (IP_TTL),
// and none of the IPv6-only ones; options off, no control message.
// PEER: none
// IPV6: yes
// NORMALISED: timestamps print only as "within 5 s of now".
#include "trace.h"

#define P 22570

static void show(const char *what, int fd)
{
	char buf[64], cbuf[512];
	struct sockaddr_in6 from;
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof buf };
	struct msghdr m = { .msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov,
			    .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf };
	memset(cbuf, 0, sizeof cbuf);
	if (!ct_wait_event(fd, POLLIN, POLLIN, 5000))
		t_log("%s: nothing arrived", what);
	long n = T_CALL(what, recvmsg(fd, &m, MSG_DONTWAIT));
	if (n < 0)
		return;
	t_data("  data", buf, n);
	t_log("  from %s", t_addrstr((struct sockaddr *)&from, m.msg_namelen));
	t_log("  msg_flags%s, controllen %zu", (m.msg_flags & MSG_CTRUNC) ? " MSG_CTRUNC" : "",
	      (size_t)m.msg_controllen);
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
		unsigned char *d = CMSG_DATA(c);
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_TIMESTAMP) {
			struct timespec now;
			clock_gettime(CLOCK_REALTIME, &now);
			long long sec = *(long long *)d;
			t_log("  cmsg SO_TIMESTAMP len %zu: within 5 s of now: %s", (size_t)c->cmsg_len,
			      (sec <= now.tv_sec && sec >= now.tv_sec - 5) ? "yes" : "no");
		} else if (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
			struct in6_pktinfo pi;
			memcpy(&pi, d, sizeof pi);
			char addr[64];
			inet_ntop(AF_INET6, &pi.ipi6_addr, addr, sizeof addr);
			t_log("  cmsg IPV6_PKTINFO len %zu: addr %s ifindex %s", (size_t)c->cmsg_len, addr,
			      pi.ipi6_ifindex == 1 ? "lo" : "other");
		} else if (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_HOPLIMIT) {
			t_log("  cmsg IPV6_HOPLIMIT len %zu: %d", (size_t)c->cmsg_len, *(int *)d);
		} else if (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_TCLASS) {
			t_log("  cmsg IPV6_TCLASS len %zu: 0x%02x", (size_t)c->cmsg_len, *(int *)d);
		} else if (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_ORIGDSTADDR) {
			t_log("  cmsg IPV6_ORIGDSTADDR len %zu: %s", (size_t)c->cmsg_len,
			      t_addrstr((struct sockaddr *)d, sizeof(struct sockaddr_in6)));
		} else if (c->cmsg_level == SOL_IP && c->cmsg_type == IP_TTL) {
			t_log("  cmsg IP_TTL len %zu: %d", (size_t)c->cmsg_len, *(int *)d);
		} else {
			t_log("  cmsg level %d type %d len %zu", c->cmsg_level, c->cmsg_type, (size_t)c->cmsg_len);
		}
	}
}

int main(void)
{
	static const struct { int opt; const char *name; } opts[] = {
		{ IPV6_RECVPKTINFO, "IPV6_RECVPKTINFO" }, { IPV6_RECVHOPLIMIT, "IPV6_RECVHOPLIMIT" },
		{ IPV6_RECVTCLASS, "IPV6_RECVTCLASS" },   { IPV6_RECVORIGDSTADDR, "IPV6_RECVORIGDSTADDR" },
		{ IPV6_RECVERR, "IPV6_RECVERR" },
	};
	int r = socket(AF_INET6, SOCK_DGRAM, 0);
	struct sockaddr_in6 ra = ct_addr6("::", P + 5);
	T_CALL("bind [::]", bind(r, (struct sockaddr *)&ra, sizeof ra));
	for (unsigned i = 0; i < sizeof opts / sizeof opts[0]; i++) {
		t_log("%s default %d", opts[i].name, ct_getint(r, IPPROTO_IPV6, opts[i].opt));
		ct_setint(r, IPPROTO_IPV6, opts[i].opt, 1);
		t_log("%s set %d", opts[i].name, ct_getint(r, IPPROTO_IPV6, opts[i].opt));
	}
	ct_setint(r, IPPROTO_IPV6, IPV6_RECVERR, 0);
	ct_setint(r, SOL_SOCKET, SO_TIMESTAMP, 1);

	int s = socket(AF_INET6, SOCK_DGRAM, 0);
	ct_setint(s, IPPROTO_IPV6, IPV6_TCLASS, 0x28);
	ct_setint(s, IPPROTO_IPV6, IPV6_UNICAST_HOPS, 33);
	struct sockaddr_in6 lo = ct_addr6("::1", P + 5);
	T_CALL("sendto ::1", sendto(s, "six", 3, 0, (struct sockaddr *)&lo, sizeof lo));
	show("recvmsg", r);

	int s4 = ct_socket(SOCK_DGRAM);
	ct_setint(s4, IPPROTO_IP, IP_TTL, 44);
	ct_setint(r, IPPROTO_IP, IP_RECVTTL, 1);
	struct sockaddr_in lo4 = ct_addr("127.0.0.1", P + 5);
	T_CALL("sendto 127.0.0.1 (AF_INET)", sendto(s4, "four", 4, 0, (struct sockaddr *)&lo4, sizeof lo4));
	show("recvmsg", r);

	for (unsigned i = 0; i < sizeof opts / sizeof opts[0]; i++)
		ct_setint(r, IPPROTO_IPV6, opts[i].opt, 0);
	ct_setint(r, SOL_SOCKET, SO_TIMESTAMP, 0);
	ct_setint(r, IPPROTO_IP, IP_RECVTTL, 0);
	T_CALL("sendto ::1", sendto(s, "none", 4, 0, (struct sockaddr *)&lo, sizeof lo));
	show("recvmsg, options off", r);
	return 0;
}
