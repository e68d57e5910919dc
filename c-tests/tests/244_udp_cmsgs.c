// CHECKS: the control messages recvmsg gives a UDP datagram, in Linux's
// order and layout: SO_TIMESTAMP (timeval) or SO_TIMESTAMPNS (timespec),
// IP_PKTINFO (ifindex, spec_dst, header destination), IP_TTL, IP_TOS (one
// byte), IP_ORIGDSTADDR; for a datagram over loopback (TTL and TOS as the
// sender set them) and one from the peer by the device;
// a control buffer too short for all of them is cut (MSG_CTRUNC) as
// put_cmsg cuts it; no option, no control message.
// PEER: udp 22440 wait:go sendto:22445:from-peer
// NORMALISED: timestamps print only as "within 5 s of now"; the device's
// interface index prints as "device" (it differs between the halves).
#include "trace.h"
#include <net/if.h>

#define P 22440

static void show(const char *what, int fd, size_t room)
{
	char buf[64], cbuf[512];
	struct sockaddr_in from;
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof buf };
	struct msghdr m = { .msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov,
			    .msg_iovlen = 1, .msg_control = room ? cbuf : NULL, .msg_controllen = room };
	memset(cbuf, 0, sizeof cbuf);
	if (!ct_wait_event(fd, POLLIN, POLLIN, 5000))
		t_log("%s: nothing arrived", what);
	long n = T_CALL(what, recvmsg(fd, &m, MSG_DONTWAIT));
	if (n < 0)
		return;
	t_data("  data", buf, n);
	t_log("  msg_flags%s, controllen %zu", (m.msg_flags & MSG_CTRUNC) ? " MSG_CTRUNC" : "", (size_t)m.msg_controllen);
	unsigned dev = if_nametoindex("cta") ? if_nametoindex("cta") : if_nametoindex("sockshim0");
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
		unsigned char *d = CMSG_DATA(c);
		size_t dl = c->cmsg_len - CMSG_LEN(0);
		if ((char *)d + dl > cbuf + m.msg_controllen)
			dl = cbuf + m.msg_controllen - (char *)d;
		if (c->cmsg_level == SOL_SOCKET && (c->cmsg_type == SO_TIMESTAMP || c->cmsg_type == SO_TIMESTAMPNS)) {
			struct timespec now;
			clock_gettime(CLOCK_REALTIME, &now);
			long long sec = *(long long *)d;
			t_log("  cmsg SOL_SOCKET %s len %zu: within 5 s of now: %s",
			      c->cmsg_type == SO_TIMESTAMP ? "SO_TIMESTAMP" : "SO_TIMESTAMPNS", (size_t)c->cmsg_len,
			      (sec <= now.tv_sec && sec >= now.tv_sec - 5) ? "yes" : "no");
		} else if (c->cmsg_level == SOL_IP && c->cmsg_type == IP_PKTINFO && dl >= sizeof(struct in_pktinfo)) {
			struct in_pktinfo pi;
			memcpy(&pi, d, sizeof pi);
			char spec[32], addr[32];
			inet_ntop(AF_INET, &pi.ipi_spec_dst, spec, sizeof spec);
			inet_ntop(AF_INET, &pi.ipi_addr, addr, sizeof addr);
			const char *ifs = pi.ipi_ifindex == 1 ? "lo" : (unsigned)pi.ipi_ifindex == dev ? "device" : "other";
			t_log("  cmsg IP_PKTINFO len %zu: ifindex %s spec_dst %s addr %s", (size_t)c->cmsg_len, ifs, spec, addr);
		} else if (c->cmsg_level == SOL_IP && c->cmsg_type == IP_TTL && dl >= 4) {
			t_log("  cmsg IP_TTL len %zu: %d", (size_t)c->cmsg_len, *(int *)d);
		} else if (c->cmsg_level == SOL_IP && c->cmsg_type == IP_TOS && dl >= 1) {
			t_log("  cmsg IP_TOS len %zu: 0x%02x", (size_t)c->cmsg_len, d[0]);
		} else if (c->cmsg_level == SOL_IP && c->cmsg_type == IP_ORIGDSTADDR && dl >= sizeof(struct sockaddr_in)) {
			t_log("  cmsg IP_ORIGDSTADDR len %zu: %s", (size_t)c->cmsg_len,
			      t_addrstr((struct sockaddr *)d, sizeof(struct sockaddr_in)));
		} else {
			t_log("  cmsg level %d type %d len %zu (%zu bytes here)", c->cmsg_level, c->cmsg_type,
			      (size_t)c->cmsg_len, dl);
		}
	}
}

int main(void)
{
	int r = ct_socket(SOCK_DGRAM);
	struct sockaddr_in ra = ct_addr("0.0.0.0", P + 5);
	if (bind(r, (struct sockaddr *)&ra, sizeof ra) < 0)
		ct_die("bind");
	int s = ct_udp(0);
	struct sockaddr_in lo = ct_addr("127.0.0.1", P + 5);
	T_CALL("sendto 127.0.0.1, no options", sendto(s, "plain", 5, 0, (struct sockaddr *)&lo, sizeof lo));
	show("recvmsg", r, 512);

	ct_setint(r, SOL_SOCKET, SO_TIMESTAMP, 1);
	ct_setint(r, IPPROTO_IP, IP_PKTINFO, 1);
	ct_setint(r, IPPROTO_IP, IP_RECVTTL, 1);
	ct_setint(r, IPPROTO_IP, IP_RECVTOS, 1);
	ct_setint(r, IPPROTO_IP, IP_RECVORIGDSTADDR, 1);
	ct_setint(s, IPPROTO_IP, IP_TTL, 33);
	ct_setint(s, IPPROTO_IP, IP_TOS, 0x28);
	T_CALL("sendto 127.0.0.1, TTL 33 TOS 0x28", sendto(s, "loop", 4, 0, (struct sockaddr *)&lo, sizeof lo));
	show("recvmsg", r, 512);
	T_CALL("sendto 127.0.0.1 again", sendto(s, "cut", 3, 0, (struct sockaddr *)&lo, sizeof lo));
	show("recvmsg, 60 bytes of room", r, 60);
	T_CALL("sendto 127.0.0.1 again", sendto(s, "none", 4, 0, (struct sockaddr *)&lo, sizeof lo));
	show("recvmsg, no control buffer", r, 0);

	ct_setint(r, SOL_SOCKET, SO_TIMESTAMPNS, 1);
	ct_setint(r, IPPROTO_IP, IP_RECVTOS, 0);
	ct_signal("go");
	show("recvmsg from the peer", r, 512);

	return 0;
}
