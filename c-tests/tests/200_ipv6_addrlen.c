// CHECKS: address lengths of AF_INET6 sockets as Linux's
// move_addr_to_user: getsockname, getpeername, accept and recvfrom with an
// addrlen of 28, 16, 8 and 0 (the address truncated, *addrlen always 28);
// recvmsg's msg_namelen; a 24-byte (RFC 2133) address to connect and
// sendto; the scope id and flow info fields come back 0.
// PEER: none
// IPV6: yes
// NORMALISED: ephemeral ports print as EPHEMERAL; truncated addresses
// print as bytes.
#include "trace.h"

#define P 22000

static void show(const char *what, unsigned char *b, socklen_t given, socklen_t got)
{
	t_log("%s: addrlen %u -> %u, family %u port %s byte8 %02x byte16 %02x", what,
	      (unsigned)given, (unsigned)got, given >= 2 ? (unsigned)(b[0] | b[1] << 8) : 0u,
	      given >= 4 ? t_portstr((unsigned)(b[2] << 8 | b[3])) : "-", b[8], b[16]);
}

int main(void)
{
	int l = socket(AF_INET6, SOCK_STREAM, 0);
	struct sockaddr_in6 a = ct_addr6(SELF_IP6, P);
	if (bind(l, (struct sockaddr *)&a, sizeof a) < 0 || listen(l, 8) < 0)
		ct_die("listen");
	int c = socket(AF_INET6, SOCK_STREAM, 0);
	T_CALL("connect with a 24-byte address", connect(c, (struct sockaddr *)&a, 24));
	socklen_t lens[] = { 28, 16, 8, 0 };
	unsigned char b[64];
	for (unsigned i = 0; i < 4; i++) {
		socklen_t n = lens[i];
		memset(b, 0xee, sizeof b);
		T_CALL("getsockname", getsockname(l, (struct sockaddr *)b, &n));
		show("  listener name", b, lens[i], n);
		n = lens[i];
		memset(b, 0xee, sizeof b);
		T_CALL("getpeername", getpeername(c, (struct sockaddr *)b, &n));
		show("  client peer", b, lens[i], n);
		if (lens[i] == 28) {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)b;
			t_log("  flowinfo %u scope_id %u", s6->sin6_flowinfo, s6->sin6_scope_id);
		}
	}
	for (unsigned i = 0; i < 2; i++) {
		int k = socket(AF_INET6, SOCK_STREAM, 0);
		if (connect(k, (struct sockaddr *)&a, sizeof a) < 0)
			ct_die("connect");
		socklen_t n = lens[i + 1];
		memset(b, 0xee, sizeof b);
		int s = T_CALL("accept", accept(l, (struct sockaddr *)b, &n));
		show("  accepted peer", b, lens[i + 1], n);
		close(s);
		close(k);
	}
	int u = socket(AF_INET6, SOCK_DGRAM, 0);
	struct sockaddr_in6 ua = ct_addr6(SELF_IP6, P + 1);
	if (bind(u, (struct sockaddr *)&ua, sizeof ua) < 0)
		ct_die("bind udp");
	int v = socket(AF_INET6, SOCK_DGRAM, 0);
	T_CALL("sendto with a 24-byte address", sendto(v, "a", 1, 0, (struct sockaddr *)&ua, 24));
	T_CALL("sendto", sendto(v, "b", 1, 0, (struct sockaddr *)&ua, sizeof ua));
	char d;
	socklen_t n = 16;
	memset(b, 0xee, sizeof b);
	ct_wait_event(u, POLLIN, POLLIN, 2000);
	T_CALL("recvfrom", recvfrom(u, &d, 1, 0, (struct sockaddr *)b, &n));
	show("  from", b, 16, n);
	struct iovec io = { .iov_base = &d, .iov_len = 1 };
	struct msghdr m = { .msg_name = b, .msg_namelen = 20, .msg_iov = &io, .msg_iovlen = 1 };
	memset(b, 0xee, sizeof b);
	ct_wait_event(u, POLLIN, POLLIN, 2000);
	T_CALL("recvmsg", recvmsg(u, &m, 0));
	show("  msg_name", b, 20, m.msg_namelen);
	return 0;
}
