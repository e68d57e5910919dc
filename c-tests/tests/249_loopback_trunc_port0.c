// CHECKS: TCP recv with MSG_TRUNC counts bytes without copying them (the
// buffer stays as it was), with MSG_PEEK leaving them queued, by recv and
// by recvmsg; a 10,000-byte UDP datagram over loopback (127.0.0.1 and our
// own address) arrives whole (lo is not cut to the device's MTU); a TCP
// connect to port 0 (on 127.0.0.1, 0.0.0.0, SELF_IP) is refused by a RST.
// PEER: none
// NORMALISED: nothing.
#include "trace.h"

#define P 22490

static void show(const char *what, const char *buf, int n)
{
	char s[32];
	for (int i = 0; i < n; i++)
		s[i] = buf[i] ? buf[i] : '.';
	s[n] = 0;
	t_log("%s buffer: \"%s\"", what, s);
}

int main(void)
{
	int l = ct_listen(P, 4);
	int c = ct_socket(SOCK_STREAM);
	struct sockaddr_in a = ct_addr(SELF_IP, P);
	if (connect(c, (struct sockaddr *)&a, sizeof a) < 0)
		ct_die("connect");
	int s = ct_accept(l);
	ct_send_all(c, "abcdefgh", 8);
	ct_wait_bytes(s, 8, 5000);
	char buf[8];
	memset(buf, 0, sizeof buf);
	T_CALL("recv 4 MSG_TRUNC|MSG_PEEK", recv(s, buf, 4, MSG_TRUNC | MSG_PEEK));
	show("  ", buf, 4);
	T_CALL("recv 3 MSG_TRUNC", recv(s, buf, 3, MSG_TRUNC));
	show("  ", buf, 4);
	struct iovec iov = { .iov_base = buf, .iov_len = 2 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	T_CALL("recvmsg 2 MSG_TRUNC", recvmsg(s, &m, MSG_TRUNC));
	show("  ", buf, 4);
	T_CALL("recv 8", recv(s, buf, 8, 0));
	show("  ", buf, 3);
	close(c);
	close(s);

	int u = ct_socket(SOCK_DGRAM);
	struct sockaddr_in ua = ct_addr("0.0.0.0", P + 5);
	if (bind(u, (struct sockaddr *)&ua, sizeof ua) < 0)
		ct_die("bind");
	int v = ct_udp(0);
	static char big[10000], got[12000];
	ct_pattern(big, sizeof big, 0);
	const char *dsts[] = { "127.0.0.1", SELF_IP };
	for (int i = 0; i < 2; i++) {
		struct sockaddr_in to = ct_addr(dsts[i], P + 5);
		t_log("to %s:", dsts[i]);
		T_CALL("  sendto 10000", sendto(v, big, sizeof big, 0, (struct sockaddr *)&to, sizeof to));
		if (!ct_wait_event(u, POLLIN, POLLIN, 2000))
			t_log("  nothing arrived");
		long n = T_CALL("  recv", recv(u, got, sizeof got, MSG_DONTWAIT));
		t_log("  same bytes: %s", n == sizeof big && !memcmp(big, got, sizeof big) ? "yes" : "no");
	}

	const char *zeros[] = { "127.0.0.1", "0.0.0.0", SELF_IP };
	for (int i = 0; i < 3; i++) {
		int t = ct_socket(SOCK_STREAM);
		struct sockaddr_in z = ct_addr(zeros[i], 0);
		t_log("connect %s:0", zeros[i]);
		T_CALL("  connect", connect(t, (struct sockaddr *)&z, sizeof z));
		close(t);
	}
	return 0;
}
