// CHECKS: net.ipv4.tcp_notsent_lowat is the unsent-bytes mark of a TCP
// socket that did not set TCP_NOTSENT_LOWAT (Linux's tcp_notsent_lowat()),
// counted from the next socket made after it changes: filled against a
// peer that does not read, such a socket keeps its unsent bytes near the
// mark where one made before keeps its send buffer's worth; getsockopt
// still reads 0 (the option's own value); setting the option overrides
// the sysctl (POLLOUT comes back). An accepted socket reads its listener's
// TCP_NOTSENT_LOWAT (Linux clones the listener), 0 without it.
// PEER: tcp 23600 rcvbuf:32768 wait:done close
// NORMALISED: unsent bytes print only as under or over 24000 bytes (the
// 2000-byte mark plus at most one size goal, half the peer's largest
// window: a 32 KiB receive buffer); the first socket's are far over it.
#include "trace.h"

#define P 23600

static void set_sysctl(const char *v)
{
	FILE *f = fopen("/proc/sys/net/ipv4/tcp_notsent_lowat", "w");
	if (!f || fputs(v, f) < 0 || fclose(f) != 0)
		ct_die("write net.ipv4.tcp_notsent_lowat");
}

// A socket with a 1 MiB send buffer (2 MiB as Linux reports it), so that
// only the mark can stop a writer early, connected to the peer.
static int connect_big(void)
{
	int fd = ct_socket(SOCK_STREAM);
	ct_setint(fd, SOL_SOCKET, SO_SNDBUF, 1 << 20);
	struct sockaddr_in a = ct_addr(PEER_IP, P);
	if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
		ct_die("connect");
	return fd;
}

static void fill_and_report(const char *what, int fd)
{
	ct_fill(fd);
	int unsent = -1;
	if (ioctl(fd, SIOCOUTQNSD, &unsent) < 0)
		ct_die("SIOCOUTQNSD");
	t_log("%s: unsent bytes once full under 24000: %s", what,
	      unsent < 24000 ? "yes" : "no");
	struct pollfd p = {.fd = fd, .events = POLLOUT};
	poll(&p, 1, 0);
	t_revents("  poll", p.revents);
}

static int self_connected(int l, unsigned port)
{
	int c = ct_socket(SOCK_STREAM);
	struct sockaddr_in a = ct_addr(SELF_IP, port);
	if (connect(c, (struct sockaddr *)&a, sizeof a) < 0)
		ct_die("connect to self");
	int s = ct_accept(l);
	close(c);
	return s;
}

int main(void)
{
	// Linux's default: no mark.
	int before = connect_big();
	T_EQ("TCP_NOTSENT_LOWAT", ct_getint(before, IPPROTO_TCP, TCP_NOTSENT_LOWAT), 0);
	fill_and_report("sysctl unset", before);

	set_sysctl("2000");
	ct_sleep_ms(50); // read again with the next socket (10 ms at most)
	int after = connect_big();
	T_EQ("TCP_NOTSENT_LOWAT with the sysctl 2000",
	     ct_getint(after, IPPROTO_TCP, TCP_NOTSENT_LOWAT), 0);
	fill_and_report("sysctl 2000", after);
	int big = 1 << 30;
	T_CALL("setsockopt TCP_NOTSENT_LOWAT 1 GiB",
	       setsockopt(after, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &big, sizeof big));
	struct pollfd p = {.fd = after, .events = POLLOUT};
	poll(&p, 1, 0);
	t_revents("poll after raising the option", p.revents);
	ct_signal("done");

	// Accepted sockets: the listener's option, not the sysctl.
	int l = ct_listen(P + 5, 4);
	int s = self_connected(l, P + 5);
	T_EQ("accepted, listener without the option",
	     ct_getint(s, IPPROTO_TCP, TCP_NOTSENT_LOWAT), 0);
	close(s);
	ct_setint(l, IPPROTO_TCP, TCP_NOTSENT_LOWAT, 3000);
	s = self_connected(l, P + 5);
	T_EQ("accepted, listener with 3000", ct_getint(s, IPPROTO_TCP, TCP_NOTSENT_LOWAT),
	     3000);
	close(s);
	close(l);
	close(after);
	close(before);
	return 0;
}
