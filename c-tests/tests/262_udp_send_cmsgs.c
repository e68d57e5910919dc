// CHECKS: control messages on sendmsg set that one datagram's header, as
// Linux's ip_cmsg_send and ip6_datagram_send_ctl: IP_TOS (an int or one
// byte) and IP_TTL over 127.0.0.1, IPV6_TCLASS and IPV6_HOPLIMIT over
// ::1 (-1: the socket's value), read back by the receiver's IP_RECVTOS /
// IP_RECVTTL / IPV6_RECVTCLASS / IPV6_RECVHOPLIMIT; the next plain send
// has the socket's values again; out-of-range values and wrong lengths
// are EINVAL and send nothing.
// PEER: none
// IPV6: yes
// NORMALISED: nothing.
#include "trace.h"

#define P 22620

static void show(const char *what, int fd)
{
	char buf[64], cbuf[256];
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof buf };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf };
	if (!ct_wait_event(fd, POLLIN, POLLIN, 2000)) {
		t_log("%s: nothing arrived", what);
		return;
	}
	long n = T_CALL(what, recvmsg(fd, &m, MSG_DONTWAIT));
	if (n < 0)
		return;
	t_data("  data", buf, n);
	t_cmsgs(&m);
}

// sendmsg with up to two control messages (len 0: none).
static long send2(int fd, const char *text, int l1, int t1, const void *v1, size_t n1, int l2, int t2,
		  const void *v2, size_t n2)
{
	union {
		char b[128];
		struct cmsghdr align;
	} u;
	memset(&u, 0, sizeof u);
	struct iovec iov = { .iov_base = (void *)text, .iov_len = strlen(text) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.b, .msg_controllen = 0 };
	struct cmsghdr *c = (struct cmsghdr *)u.b;
	if (n1) {
		c->cmsg_level = l1;
		c->cmsg_type = t1;
		c->cmsg_len = CMSG_LEN(n1);
		memcpy(CMSG_DATA(c), v1, n1);
		m.msg_controllen = CMSG_SPACE(n1);
	}
	if (n2) {
		c = (struct cmsghdr *)(u.b + m.msg_controllen);
		c->cmsg_level = l2;
		c->cmsg_type = t2;
		c->cmsg_len = CMSG_LEN(n2);
		memcpy(CMSG_DATA(c), v2, n2);
		m.msg_controllen += CMSG_SPACE(n2);
	}
	return sendmsg(fd, &m, 0);
}

int main(void)
{
	int r = ct_socket(SOCK_DGRAM);
	struct sockaddr_in ra = ct_addr("127.0.0.1", P);
	if (bind(r, (struct sockaddr *)&ra, sizeof ra) < 0)
		ct_die("bind");
	ct_setint(r, IPPROTO_IP, IP_RECVTOS, 1);
	ct_setint(r, IPPROTO_IP, IP_RECVTTL, 1);
	int s = ct_socket(SOCK_DGRAM);
	if (connect(s, (struct sockaddr *)&ra, sizeof ra) < 0)
		ct_die("connect");
	int tos = 0x20, ttl = 7, bad = 0, big = 256;
	unsigned char tos1 = 0x48;
	T_CALL("sendmsg IP_TOS 0x20 + IP_TTL 7", send2(s, "one", SOL_IP, IP_TOS, &tos, 4, SOL_IP, IP_TTL, &ttl, 4));
	show("recvmsg", r);
	T_CALL("sendmsg IP_TOS as one byte", send2(s, "two", SOL_IP, IP_TOS, &tos1, 1, 0, 0, NULL, 0));
	show("recvmsg", r);
	T_CALL("send, no control", send(s, "three", 5, 0));
	show("recvmsg", r);
	T_CALL("sendmsg IP_TTL 0", send2(s, "bad", SOL_IP, IP_TTL, &bad, 4, 0, 0, NULL, 0));
	T_CALL("sendmsg IP_TOS 256", send2(s, "bad", SOL_IP, IP_TOS, &big, 4, 0, 0, NULL, 0));
	T_CALL("sendmsg IP_TTL in 2 bytes", send2(s, "bad", SOL_IP, IP_TTL, &ttl, 2, 0, 0, NULL, 0));
	show("recvmsg (nothing sent)", r);

	int r6 = socket(AF_INET6, SOCK_DGRAM, 0);
	struct sockaddr_in6 ra6 = ct_addr6("::1", P + 1);
	if (bind(r6, (struct sockaddr *)&ra6, sizeof ra6) < 0)
		ct_die("bind6");
	ct_setint(r6, IPPROTO_IPV6, IPV6_RECVTCLASS, 1);
	ct_setint(r6, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1);
	int s6 = socket(AF_INET6, SOCK_DGRAM, 0);
	ct_setint(s6, IPPROTO_IPV6, IPV6_TCLASS, 0x10);
	if (connect(s6, (struct sockaddr *)&ra6, sizeof ra6) < 0)
		ct_die("connect6");
	int tc = 0xb8, hl = 9, def = -1, big6 = 256;
	T_CALL("sendmsg IPV6_TCLASS 0xb8 + IPV6_HOPLIMIT 9",
	       send2(s6, "six", SOL_IPV6, IPV6_TCLASS, &tc, 4, SOL_IPV6, IPV6_HOPLIMIT, &hl, 4));
	show("recvmsg", r6);
	T_CALL("sendmsg IPV6_TCLASS -1", send2(s6, "seven", SOL_IPV6, IPV6_TCLASS, &def, 4, 0, 0, NULL, 0));
	show("recvmsg", r6);
	T_CALL("send, no control", send(s6, "eight", 5, 0));
	show("recvmsg", r6);
	T_CALL("sendmsg IPV6_HOPLIMIT 256", send2(s6, "bad", SOL_IPV6, IPV6_HOPLIMIT, &big6, 4, 0, 0, NULL, 0));
	show("recvmsg (nothing sent)", r6);
	return 0;
}
