// CHECKS: a port is free when close() of its socket's last descriptor
// returns, as Linux: close and bind the same port again, many times in a
// row, for UDP (bound; a loopback pair that carried a datagram; connected
// to a peer) and TCP (a listener; a connection reset by SO_LINGER 0), on
// 127.0.0.1 (which the shim also holds in the kernel's port space), on
// our address and on the wildcard, with SO_REUSEADDR and without. While a
// dup'd descriptor still holds the socket the port stays busy
// (EADDRINUSE); the moment the last one is closed it is free. (A forked
// child holding it: 302.)
// PEER: tcp 23016 recvall
// NORMALISED: nothing.
#include "rounds.h"

#define P 23010
#define PEER_PORT 23016
#define ROUNDS 150

// socket, bind (and listen), close; again and again.
static void bound(const char *what, int ty, const char *ip, int reuse)
{
	struct tally t = { 0 };
	for (int i = 0; i < ROUNDS; i++) {
		int fd = sock(ty, reuse);
		if (bind_to(fd, ip, P) < 0)
			fail(&t, i, "bind", errno);
		else if (ty == SOCK_STREAM && listen(fd, 8) < 0)
			fail(&t, i, "listen", errno);
		close(fd);
	}
	report(what, ROUNDS, &t);
}

// 271_socket_filter's pair: a datagram over loopback, both closed.
static void udp_pair(void)
{
	struct tally t = { 0 };
	struct sockaddr_in a = ct_addr("127.0.0.1", P);
	char b[8];
	for (int i = 0; i < ROUNDS; i++) {
		int s = ct_socket(SOCK_DGRAM), c = ct_socket(SOCK_DGRAM);
		if (bind(s, (struct sockaddr *)&a, sizeof a) < 0)
			fail(&t, i, "bind", errno);
		else if (connect(c, (struct sockaddr *)&a, sizeof a) < 0)
			fail(&t, i, "connect", errno);
		else if (send(c, "x", 1, 0) != 1)
			fail(&t, i, "send", errno);
		else if (!ct_wait_event(s, POLLIN, POLLIN, 3000) || recv(s, b, sizeof b, MSG_DONTWAIT) != 1)
			fail(&t, i, "recv", errno);
		close(c);
		close(s);
	}
	report("udp pair on 127.0.0.1", ROUNDS, &t);
}

// A UDP socket bound to our address and connected to the peer's.
static void udp_connected(void)
{
	struct tally t = { 0 };
	struct sockaddr_in peer = ct_addr(PEER_IP, PEER_PORT + 2);
	for (int i = 0; i < ROUNDS; i++) {
		int fd = ct_socket(SOCK_DGRAM);
		if (bind_to(fd, SELF_IP, P) < 0)
			fail(&t, i, "bind", errno);
		else if (connect(fd, (struct sockaddr *)&peer, sizeof peer) < 0)
			fail(&t, i, "connect", errno);
		close(fd);
	}
	report("udp connected to the peer", ROUNDS, &t);
}

// A connection to the peer closed with SO_LINGER 0: the reset frees the
// port at once (no TIME_WAIT), so the next bind without SO_REUSEADDR
// succeeds.
static void tcp_reset(void)
{
	struct tally t = { 0 };
	struct sockaddr_in peer = ct_addr(PEER_IP, PEER_PORT);
	struct linger lg = { 1, 0 };
	int rounds = ROUNDS / 3;
	for (int i = 0; i < rounds; i++) {
		int fd = ct_socket(SOCK_STREAM);
		if (bind_to(fd, SELF_IP, P) < 0)
			fail(&t, i, "bind", errno);
		else if (connect(fd, (struct sockaddr *)&peer, sizeof peer) < 0)
			fail(&t, i, "connect", errno);
		else if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg) < 0)
			fail(&t, i, "SO_LINGER", errno);
		close(fd);
	}
	report("tcp connection reset by close", rounds, &t);
}

// A dup'd descriptor holds the port after the first close.
static void dup_holds(int ty, const char *ip)
{
	struct tally t = { 0 };
	for (int i = 0; i < ROUNDS; i++) {
		int fd = sock(ty, 0);
		if (bind_to(fd, ip, P) < 0 || (ty == SOCK_STREAM && listen(fd, 8) < 0)) {
			fail(&t, i, "bind", errno);
			close(fd);
			continue;
		}
		int d = dup(fd);
		close(fd);
		int x = sock(ty, 0);
		if (bind_to(x, ip, P) == 0)
			fail(&t, i, "bind while the dup holds it", 0);
		else if (errno != EADDRINUSE)
			fail(&t, i, "bind while the dup holds it", errno);
		close(d);
		if (bind_to(x, ip, P) < 0)
			fail(&t, i, "bind after the dup's close", errno);
		close(x);
	}
	t_log("%s %s, dup'd:", ty == SOCK_STREAM ? "tcp listener" : "udp", ip);
	report("  busy until the last close", ROUNDS, &t);
}

int main(void)
{
	t_log("== close, then bind the same port");
	bound("udp 127.0.0.1", SOCK_DGRAM, "127.0.0.1", 0);
	bound("udp 127.0.0.1 SO_REUSEADDR", SOCK_DGRAM, "127.0.0.1", 1);
	bound("udp " SELF_IP, SOCK_DGRAM, SELF_IP, 0);
	bound("udp 0.0.0.0", SOCK_DGRAM, "0.0.0.0", 0);
	bound("tcp listener 127.0.0.1", SOCK_STREAM, "127.0.0.1", 0);
	bound("tcp listener 127.0.0.1 SO_REUSEADDR", SOCK_STREAM, "127.0.0.1", 1);
	bound("tcp listener " SELF_IP, SOCK_STREAM, SELF_IP, 0);
	bound("tcp listener 0.0.0.0", SOCK_STREAM, "0.0.0.0", 0);
	bound("tcp listener 0.0.0.0 SO_REUSEADDR", SOCK_STREAM, "0.0.0.0", 1);
	udp_pair();
	udp_connected();
	tcp_reset();
	t_log("== another descriptor holds the socket");
	dup_holds(SOCK_DGRAM, "127.0.0.1");
	dup_holds(SOCK_STREAM, "0.0.0.0");
	dup_holds(SOCK_DGRAM, SELF_IP);
	return 0;
}
