// CHECKS: a port held by a connection in TIME_WAIT (A closed first): bind
// without SO_REUSEADDR is EADDRINUSE, with it (set on both) succeeds, and a
// server restarting on its port with SO_REUSEADDR can listen again.
// PEER: tcp 21220 echo
// PEER: connect 21225 after:listening recvall
// SYSCTL: net.ipv4.tcp_rfc1337=1
// tcp_rfc1337 keeps A's TIME_WAIT when the peer's RST comes: under load,
// A's ACK of the peer's FIN can be late, the peer retransmits its FIN, and
// the second ACK meets a closed socket there and draws an RST that would
// end the TIME_WAIT (seen on Linux: 2 of 90 kernel runs at load 25).
// NORMALISED: nothing. (A sleeps 100 ms after the peer has closed so A's
// sockets have reached TIME_WAIT.)
#include "trace.h"

#define P 21220

static int bind_to(unsigned port, int reuse)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (reuse)
		ct_setint(fd, SOL_SOCKET, SO_REUSEADDR, 1);
	struct sockaddr_in a = ct_addr(SELF_IP, port);
	char what[64];
	snprintf(what, sizeof what, "bind %u%s", port, reuse ? " with SO_REUSEADDR" : "");
	T_CALL(what, bind(fd, (struct sockaddr *)&a, sizeof a));
	return fd;
}

int main(void)
{
	// client side: A binds 21226, connects, closes first
	int c = bind_to(P + 6, 1);
	struct sockaddr_in a = ct_addr(PEER_IP, P);
	T_CALL("connect", connect(c, (struct sockaddr *)&a, sizeof a));
	T_CALL("close (A first)", close(c));
	ct_peer_report(P); // returns once the peer has seen EOF and closed
	ct_sleep_ms(100);
	close(bind_to(P + 6, 0));
	close(bind_to(P + 6, 1));

	// server side: A listens on 21225 with SO_REUSEADDR, accepts, closes first
	int l = bind_to(P + 5, 1);
	listen(l, 5);
	ct_signal("listening");
	int s = ct_accept(l);
	T_CALL("close accepted (A first)", close(s));
	T_CALL("close listener", close(l));
	ct_peer_report(P + 5);
	ct_sleep_ms(100);
	close(bind_to(P + 5, 0));
	l = bind_to(P + 5, 1);
	T_CALL("listen again", listen(l, 5));
	return 0;
}
