// CHECKS: UDP_SEGMENT and UDP_GRO as Linux's udp_lib_setsockopt,
// udp_cmsg_send and udp_send_skb: the options read back (UDP_GRO as 0/1),
// out-of-range values and a short option are EINVAL, TCP refuses them
// (ENOPROTOOPT); a send longer than the segment size arrives over
// 127.0.0.1 (and ::1) as datagrams of that size, the last shorter; a
// UDP_SEGMENT control message (a u16) overrides the socket's for one send,
// 0 included, and a wrong length or another SOL_UDP type is EINVAL; a
// UDP_GRO receiver takes the send whole with a UDP_GRO message giving the
// piece size (none for an ordinary datagram); more than 128 pieces is
// EINVAL, a piece that does not fit the route's MTU (to 10.7.0.1)
// EMSGSIZE; IP_MTU_DISCOVER=DO refuses a datagram over the MTU with
// EMSGSIZE, which IP_RECVERR also queues (origin LOCAL, the MTU as info).
// The datagrams to 10.7.0.1 go to a peer that takes them (no port
// unreachable comes back late to a socket that then asks for IP_RECVERR).
// PEER: udp 22999 sink
// IPV6: yes
// NORMALISED: nothing.
#include "trace.h"
#include <linux/errqueue.h>
#include <netinet/udp.h>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

#define P 22990

static char pattern[70000];

// Every datagram queued on fd, as runs of equal lengths, and any UDP_GRO
// message; together they must be one send's bytes, in order.
static void drain(const char *what, int fd)
{
	static char buf[70000];
	char cbuf[256];
	if (!ct_wait_event(fd, POLLIN, POLLIN, 2000)) {
		t_log("%s: nothing arrived", what);
		return;
	}
	size_t off = 0;
	long run_len = -1;
	int run = 0, wrong = 0;
	for (;;) {
		struct iovec iov = { .iov_base = buf, .iov_len = sizeof buf };
		struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf };
		long n = recvmsg(fd, &m, MSG_DONTWAIT);
		if (n != run_len && run > 0) {
			t_log("%s: %d x %ld bytes", what, run, run_len);
			run = 0;
		}
		if (n < 0) {
			if (errno != EAGAIN)
				t_ret(what, n, errno);
			break;
		}
		run_len = n;
		run++;
		if (off + n > sizeof pattern || memcmp(buf, pattern + off, n))
			wrong++;
		off += n;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
			if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO)
				t_log("  UDP_GRO %d (len %zu)", *(int *)CMSG_DATA(c), (size_t)c->cmsg_len);
			else
				t_log("  cmsg %d/%d", c->cmsg_level, c->cmsg_type);
		}
	}
	t_log("  %zu bytes in order: %s", off, wrong ? "no" : "yes");
}

// sendmsg of n pattern bytes to `to` with one SOL_UDP message of `len`
// bytes (0: none).
static long send_seg(int fd, size_t n, const struct sockaddr *to, socklen_t tolen, int type, const void *v,
		     size_t len)
{
	union {
		char b[64];
		struct cmsghdr align;
	} u;
	memset(&u, 0, sizeof u);
	struct iovec iov = { .iov_base = pattern, .iov_len = n };
	struct msghdr m = { .msg_name = (void *)to, .msg_namelen = tolen, .msg_iov = &iov, .msg_iovlen = 1 };
	if (len) {
		struct cmsghdr *c = (struct cmsghdr *)u.b;
		c->cmsg_level = SOL_UDP;
		c->cmsg_type = type;
		c->cmsg_len = CMSG_LEN(len);
		memcpy(CMSG_DATA(c), v, len);
		m.msg_control = u.b;
		m.msg_controllen = CMSG_SPACE(len);
	}
	return sendmsg(fd, &m, 0);
}

static void getint(const char *what, int fd, int name)
{
	int v = -7;
	socklen_t l = sizeof v;
	if (T_CALL(what, getsockopt(fd, SOL_UDP, name, &v, &l)) == 0)
		t_log("  = %d (len %u)", v, (unsigned)l);
}

int main(void)
{
	for (size_t i = 0; i < sizeof pattern; i++)
		pattern[i] = (char)(i * 7 + i / 251);
	struct sockaddr_in lo = ct_addr("127.0.0.1", P);
	struct sockaddr *to = (struct sockaddr *)&lo;
	int r = ct_socket(SOCK_DGRAM);
	if (bind(r, to, sizeof lo) < 0)
		ct_die("bind");
	int s = ct_socket(SOCK_DGRAM);

	t_log("== options");
	getint("getsockopt UDP_SEGMENT", s, UDP_SEGMENT);
	getint("getsockopt UDP_GRO", s, UDP_GRO);
	int v = -1;
	T_CALL("UDP_SEGMENT -1", setsockopt(s, SOL_UDP, UDP_SEGMENT, &v, sizeof v));
	v = 65536;
	T_CALL("UDP_SEGMENT 65536", setsockopt(s, SOL_UDP, UDP_SEGMENT, &v, sizeof v));
	short sh = 100;
	T_CALL("UDP_SEGMENT as a short", setsockopt(s, SOL_UDP, UDP_SEGMENT, &sh, sizeof sh));
	v = 1000;
	T_CALL("UDP_SEGMENT 1000", setsockopt(s, SOL_UDP, UDP_SEGMENT, &v, sizeof v));
	getint("getsockopt UDP_SEGMENT", s, UDP_SEGMENT);
	v = 5;
	T_CALL("UDP_GRO 5", setsockopt(r, SOL_UDP, UDP_GRO, &v, sizeof v));
	getint("getsockopt UDP_GRO", r, UDP_GRO);
	v = 0;
	T_CALL("UDP_GRO 0", setsockopt(r, SOL_UDP, UDP_GRO, &v, sizeof v));
	int t = ct_socket(SOCK_STREAM);
	v = 1000;
	T_CALL("TCP socket: UDP_SEGMENT", setsockopt(t, SOL_UDP, UDP_SEGMENT, &v, sizeof v));
	close(t);

	t_log("== cut into datagrams");
	T_CALL("sendto 2500", sendto(s, pattern, 2500, 0, to, sizeof lo));
	drain("recv", r);
	T_CALL("sendto 800 (one piece)", sendto(s, pattern, 800, 0, to, sizeof lo));
	drain("recv", r);
	unsigned short seg = 500;
	T_CALL("sendmsg 1200, UDP_SEGMENT 500", send_seg(s, 1200, to, sizeof lo, UDP_SEGMENT, &seg, 2));
	drain("recv", r);
	seg = 0;
	T_CALL("sendmsg 1200, UDP_SEGMENT 0", send_seg(s, 1200, to, sizeof lo, UDP_SEGMENT, &seg, 2));
	drain("recv", r);
	int seg4 = 500;
	T_CALL("sendmsg, UDP_SEGMENT in 4 bytes", send_seg(s, 1200, to, sizeof lo, UDP_SEGMENT, &seg4, 4));
	T_CALL("sendmsg, SOL_UDP type 1", send_seg(s, 1200, to, sizeof lo, 1, &seg, 2));
	T_CALL("sendto 3000 again", sendto(s, pattern, 3000, 0, to, sizeof lo));
	drain("recv", r);

	t_log("== UDP_GRO receiver");
	v = 1;
	ct_setint(r, SOL_UDP, UDP_GRO, 1);
	T_CALL("sendto 2500", sendto(s, pattern, 2500, 0, to, sizeof lo));
	drain("recv", r);
	T_CALL("sendto 800", sendto(s, pattern, 800, 0, to, sizeof lo));
	drain("recv", r);
	ct_setint(r, SOL_UDP, UDP_GRO, 0);

	t_log("== limits");
	v = 10;
	T_CALL("UDP_SEGMENT 10", setsockopt(s, SOL_UDP, UDP_SEGMENT, &v, sizeof v));
	T_CALL("sendto 1280 (128 pieces)", sendto(s, pattern, 1280, 0, to, sizeof lo));
	drain("recv", r);
	T_CALL("sendto 1281 (129 pieces)", sendto(s, pattern, 1281, 0, to, sizeof lo));
	v = 1000;
	T_CALL("UDP_SEGMENT 1000", setsockopt(s, SOL_UDP, UDP_SEGMENT, &v, sizeof v));
	T_CALL("sendto 65508", sendto(s, pattern, 65508, 0, to, sizeof lo));
	struct sockaddr_in peer = ct_addr(PEER_IP, P + 9);
	struct sockaddr *pto = (struct sockaddr *)&peer;
	v = 1473;
	T_CALL("UDP_SEGMENT 1473", setsockopt(s, SOL_UDP, UDP_SEGMENT, &v, sizeof v));
	T_CALL("sendto peer 1000", sendto(s, pattern, 1000, 0, pto, sizeof peer));
	T_CALL("sendto peer 1473", sendto(s, pattern, 1473, 0, pto, sizeof peer));
	T_CALL("sendto peer 3000", sendto(s, pattern, 3000, 0, pto, sizeof peer));
	v = 1472;
	T_CALL("UDP_SEGMENT 1472", setsockopt(s, SOL_UDP, UDP_SEGMENT, &v, sizeof v));
	T_CALL("sendto peer 3000", sendto(s, pattern, 3000, 0, pto, sizeof peer));
	drain("recv (nothing more)", r);

	t_log("== IP_MTU_DISCOVER DO");
	int d = ct_socket(SOCK_DGRAM);
	ct_setint(d, IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DO);
	T_CALL("sendto peer 1472", sendto(d, pattern, 1472, 0, pto, sizeof peer));
	T_CALL("sendto peer 1473", sendto(d, pattern, 1473, 0, pto, sizeof peer));
	ct_setint(d, IPPROTO_IP, IP_RECVERR, 1);
	T_CALL("sendto peer 2000 (IP_RECVERR)", sendto(d, pattern, 2000, 0, pto, sizeof peer));
	char cbuf[256], data[16];
	struct sockaddr_in name;
	struct iovec iov = { .iov_base = data, .iov_len = sizeof data };
	struct msghdr m = { .msg_name = &name, .msg_namelen = sizeof name, .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = cbuf, .msg_controllen = sizeof cbuf };
	long n = T_CALL("recvmsg MSG_ERRQUEUE", recvmsg(d, &m, MSG_ERRQUEUE | MSG_DONTWAIT));
	if (n >= 0) {
		t_log("  name: %s", t_addrstr((struct sockaddr *)&name, m.msg_namelen));
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
			if (c->cmsg_level != SOL_IP || c->cmsg_type != IP_RECVERR)
				continue;
			struct sock_extended_err *ee = (void *)CMSG_DATA(c);
			t_log("  ee_errno %s origin %u type %u code %u info %u", t_errname(ee->ee_errno), ee->ee_origin,
			      ee->ee_type, ee->ee_code, ee->ee_info);
		}
	}
	T_CALL("recvmsg MSG_ERRQUEUE again", recvmsg(d, &m, MSG_ERRQUEUE | MSG_DONTWAIT));

	t_log("== IPv6");
	int r6 = socket(AF_INET6, SOCK_DGRAM, 0);
	struct sockaddr_in6 lo6 = ct_addr6("::1", P + 1);
	if (bind(r6, (struct sockaddr *)&lo6, sizeof lo6) < 0)
		ct_die("bind6");
	int s6 = socket(AF_INET6, SOCK_DGRAM, 0);
	v = 1000;
	T_CALL("UDP_SEGMENT 1000", setsockopt(s6, SOL_UDP, UDP_SEGMENT, &v, sizeof v));
	T_CALL("sendto ::1 2500", sendto(s6, pattern, 2500, 0, (struct sockaddr *)&lo6, sizeof lo6));
	drain("recv", r6);
	T_CALL("sendto ::1 65528", sendto(s6, pattern, 65528, 0, (struct sockaddr *)&lo6, sizeof lo6));
	return 0;
}
