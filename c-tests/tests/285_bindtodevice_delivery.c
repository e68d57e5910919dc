// CHECKS: SO_BINDTODEVICE limits what a socket receives to its device, as
// Linux's compute_score: a UDP socket on 0.0.0.0 bound to "lo" receives a
// datagram sent to 127.0.0.1 but not the peer's, which arrives on the
// device (it is answered by a port unreachable instead, and a second
// socket on the same port without a device takes it); a TCP listener on
// 0.0.0.0 bound to "lo" accepts a loopback connection and refuses the
// peer's (RST: the peer's connect gets ECONNREFUSED). Sending from a
// socket bound to "lo" to the peer fails as Linux's route lookup does.
// The peer's first datagram is followed by a marker to a plain socket on
// another port: frames from the device are taken in order, so once the
// marker is in, the first datagram has been dealt with (a fixed wait
// was not enough under load: it then reached the second socket).
// PEER: udp 22850 wait:go sendto:22855:fromdev sendto:22856:mark wait:go2 sendto:22855:again
// PEER: connect 22857 after:tcpgo
// NORMALISED: nothing.
#include "trace.h"

#define P 22850

static void rx(const char *what, int fd, int ms)
{
	char b[64];
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int n = poll(&p, 1, ms);
	if (n <= 0) {
		t_log("%s: nothing", what);
		return;
	}
	long r = recv(fd, b, sizeof b, MSG_DONTWAIT);
	if (r < 0) {
		t_log("%s = -1 %s", what, t_errname(errno));
		return;
	}
	t_data(what, b, r);
}

int main(void)
{
	t_log("== UDP");
	int s = ct_socket(SOCK_DGRAM);
	ct_setint(s, SOL_SOCKET, SO_REUSEADDR, 1);
	T_CALL("bind to lo", setsockopt(s, SOL_SOCKET, SO_BINDTODEVICE, "lo", 2));
	struct sockaddr_in any = ct_addr("0.0.0.0", P + 5);
	T_CALL("bind 0.0.0.0", bind(s, (struct sockaddr *)&any, sizeof any));
	int m = ct_socket(SOCK_DGRAM);
	struct sockaddr_in ma = ct_addr("0.0.0.0", P + 6);
	T_CALL("marker socket, bind 0.0.0.0", bind(m, (struct sockaddr *)&ma, sizeof ma));
	int c = ct_socket(SOCK_DGRAM);
	struct sockaddr_in lo = ct_addr("127.0.0.1", P + 5);
	T_CALL("sendto 127.0.0.1", sendto(c, "fromlo", 6, 0, (struct sockaddr *)&lo, sizeof lo));
	rx("  received", s, 2000);
	ct_signal("go");
	rx("  the peer's marker", m, 10000);
	rx("  the peer's, on the device", s, 100);
	int s2 = ct_socket(SOCK_DGRAM);
	ct_setint(s2, SOL_SOCKET, SO_REUSEADDR, 1);
	T_CALL("second socket, no device, bind 0.0.0.0", bind(s2, (struct sockaddr *)&any, sizeof any));
	ct_signal("go2");
	rx("  the peer's again, to the bound socket", s, 500);
	rx("  the peer's again, to the second socket", s2, 2000);
	struct sockaddr_in peer = ct_addr(PEER_IP, P);
	T_CALL("sendto the peer from lo's socket", sendto(s, "x", 1, 0, (struct sockaddr *)&peer, sizeof peer));
	close(s);
	close(s2);
	close(m);
	close(c);

	t_log("== TCP");
	int l = ct_socket(SOCK_STREAM);
	T_CALL("bind to lo", setsockopt(l, SOL_SOCKET, SO_BINDTODEVICE, "lo", 2));
	struct sockaddr_in la = ct_addr("0.0.0.0", P + 7);
	T_CALL("bind 0.0.0.0", bind(l, (struct sockaddr *)&la, sizeof la));
	T_CALL("listen", listen(l, 8));
	int lc = ct_socket(SOCK_STREAM);
	struct sockaddr_in llo = ct_addr("127.0.0.1", P + 7);
	T_CALL("connect 127.0.0.1", connect(lc, (struct sockaddr *)&llo, sizeof llo));
	int a = T_CALL("accept", accept(l, NULL, NULL));
	if (a >= 0)
		close(a);
	ct_signal("tcpgo");
	ct_sleep_ms(300);
	ct_set_nonblock(l, 1);
	T_CALL("accept the peer's", accept(l, NULL, NULL));
	ct_peer_report(P + 7);
	close(lc);
	close(l);
	return 0;
}
