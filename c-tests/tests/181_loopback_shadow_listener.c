// CHECKS: a listener of ours on 127.0.0.1 or 0.0.0.0 is reachable from a
// process on kernel sockets through 127.0.0.1 (issue 19): poll and epoll
// on the listener are woken by a kernel-side connection, a blocking accept
// too; accept takes connections from both stacks in arrival order (a
// kernel client first, then a client in this program, and the other way
// round); the kernel-side
// connection carries data both ways; non-blocking accept with nothing
// queued is EAGAIN; after close a kernel connect is refused.
// PEER: none
// NORMALISED: peer ports are printed as EPHEMERAL.
#include "kernel_side.h"
#include <sys/epoll.h>

#define P 21820

static int listener(const char *ip, int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	inet_pton(AF_INET, ip, &a.sin_addr);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	T_CALL("bind", bind(fd, (struct sockaddr *)&a, sizeof a));
	T_CALL("listen", listen(fd, 8));
	return fd;
}

// Accept one connection, read what the client sent, answer "ok".
static void serve_one(int l, const char *what)
{
	int c = T_CALL(what, accept(l, NULL, NULL));
	char b[16];
	ct_wait_bytes(c, 5, 3000);
	long n = recv(c, b, sizeof b, 0);
	t_data("  got", b, n);
	t_peername("  peer", c);
	send(c, "ok", 2, MSG_NOSIGNAL);
	close(c);
}

static void round_trip(const char *ip, int port)
{
	t_log("-- listener on %s", ip);
	int l = listener(ip, port), r;
	struct pollfd p = {.fd = l, .events = POLLIN};
	T_CALL("poll (nothing yet)", poll(&p, 1, 0));
	ks_t k = ks_start("connect", "127.0.0.1", port, 0, &r);
	t_log("kernel connect 127.0.0.1 = %s", r ? t_errname(r) : "0");
	T_CALL("poll (kernel-side connection)", poll(&p, 1, 3000));
	t_revents("revents", p.revents);
	serve_one(l, "accept");
	t_log("kernel side got a %d-byte reply", ks_next(k));
	ks_stop(k);

	// A blocking accept woken by a connection that comes later.
	k = ks_start("dconnect", "127.0.0.1", port, 150, &r);
	serve_one(l, "blocking accept");
	t_log("kernel side: connect %s", ks_next(k) ? "failed" : "0");
	t_log("kernel side got a %d-byte reply", ks_next(k));
	ks_stop(k);

	// epoll.
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 7}, out[4];
	T_CALL("epoll_ctl ADD", epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev));
	T_CALL("epoll_wait (nothing yet)", epoll_wait(ep, out, 4, 0));
	k = ks_start("connect", "127.0.0.1", port, 0, &r);
	int n = T_CALL("epoll_wait (kernel-side connection)", epoll_wait(ep, out, 4, 3000));
	if (n > 0)
		t_log("event %s data %u", (out[0].events & EPOLLIN) ? "EPOLLIN" : "other", out[0].data.u32);
	serve_one(l, "accept");
	ks_next(k);
	ks_stop(k);
	close(ep);

	// Both stacks, in arrival order: the kernel client, then ours.
	k = ks_start("connect", "127.0.0.1", port, 0, &r);
	usleep(50 * 1000);
	int c = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	T_CALL("connect ours", connect(c, (struct sockaddr *)&a, sizeof a));
	T_CALL("send ours", send(c, "stack", 5, 0));
	serve_one(l, "accept 1");
	serve_one(l, "accept 2");
	char b[8];
	ct_wait_bytes(c, 2, 3000);
	long m = recv(c, b, sizeof b, 0);
	t_data("ours got", b, m);
	close(c);
	ks_next(k);
	ks_stop(k);

	// And the other order: ours first, then the kernel client.
	c = socket(AF_INET, SOCK_STREAM, 0);
	T_CALL("connect ours", connect(c, (struct sockaddr *)&a, sizeof a));
	T_CALL("send ours", send(c, "stack", 5, 0));
	usleep(50 * 1000);
	k = ks_start("connect", "127.0.0.1", port, 0, &r);
	usleep(50 * 1000);
	serve_one(l, "accept 1");
	serve_one(l, "accept 2");
	close(c);
	ks_next(k);
	ks_stop(k);

	fcntl(l, F_SETFL, O_NONBLOCK);
	T_CALL("accept non-blocking (nothing)", accept(l, NULL, NULL));
	T_CALL("close listener", close(l));
	k = ks_start("connect", "127.0.0.1", port, 0, &r);
	t_log("kernel connect after close = %s", r ? t_errname(r) : "0");
	ks_stop(k);
}

int main(int argc, char **argv)
{
	ks_main(argc, argv);
	round_trip("127.0.0.1", P + 1);
	round_trip("0.0.0.0", P + 2);
	return 0;
}
