// CHECKS: an AF_INET6 UDP socket takes a sockaddr_in (16 or 28 bytes) as
// the destination of connect and sendto, as an IPv4 (v4-mapped) peer;
// getpeername then shows ::ffff:10.7.0.2; TCP refuses it (16 bytes:
// EINVAL, 28: EAFNOSUPPORT) and so does bind.
// PEER: none
// IPV6: yes
// NORMALISED: ephemeral ports print as EPHEMERAL.
#include "trace.h"

#define P 22010

int main(void)
{
	int r = ct_udp(P);
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof ss);
	struct sockaddr_in a = ct_addr(SELF_IP, P);
	memcpy(&ss, &a, sizeof a);
	for (int len = 16; len <= 28; len += 12) {
		t_log("-- len %d", len);
		int u = socket(AF_INET6, SOCK_DGRAM, 0);
		T_CALL("udp6 sendto AF_INET", sendto(u, "s", 1, 0, (struct sockaddr *)&ss, len));
		T_CALL("udp6 connect AF_INET", connect(u, (struct sockaddr *)&ss, len));
		t_peername("  getpeername", u);
		t_sockname("  getsockname", u);
		T_CALL("send", send(u, "c", 1, 0));
		char b[4];
		struct sockaddr_storage from;
		for (int i = 0; i < 2; i++) {
			socklen_t fl = sizeof from;
			ct_wait_event(r, POLLIN, POLLIN, 2000);
			long n = T_CALL("AF_INET recvfrom", recvfrom(r, b, sizeof b, MSG_DONTWAIT, (struct sockaddr *)&from, &fl));
			t_data("  data", b, n);
			t_log("  from %s", t_addrstr((struct sockaddr *)&from, fl));
		}
		close(u);
		int t = socket(AF_INET6, SOCK_STREAM, 0);
		T_CALL("tcp6 connect AF_INET", connect(t, (struct sockaddr *)&ss, len));
		close(t);
		int x = socket(AF_INET6, SOCK_DGRAM, 0);
		T_CALL("udp6 bind AF_INET", bind(x, (struct sockaddr *)&ss, len));
		close(x);
	}
	return 0;
}
