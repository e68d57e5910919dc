// CHECKS: SO_BINDTODEVICE decides where a socket's sends go, as Linux's
// route lookup with the socket's device as output interface, in IPv4 and
// in IPv6: bound to the device, a datagram to the peer goes out and one to
// an address of ours on the device is delivered, while loopback (on lo) is
// not reached through the device; bound to lo, IPv4 to the peer never
// reaches it (sendto succeeds, a connect does not complete) while IPv6 to
// anything but ::1 is ENETUNREACH. A connection to our device address
// from a socket bound to lo does not complete: its answer arrives as on
// the device. Source addresses are printed with getsockname.
// IPV6: yes
// PEER: udp 22870 recv recv
// PEER: tcp 22872 echo
// NORMALISED: waits for what must not arrive are 300-500 ms.
#include <net/if.h>
#include "trace.h"

#define P 22870

// The interface that is not lo: cta on the kernel side, sockshim0 under
// the shim.
static char dev[IF_NAMESIZE];
static int family;

static void find_dev(void)
{
	struct if_nameindex *ifs = if_nameindex();
	if (!ifs)
		ct_die("if_nameindex");
	for (struct if_nameindex *i = ifs; i->if_index; i++)
		if (strcmp(i->if_name, "lo") != 0)
			snprintf(dev, sizeof dev, "%s", i->if_name);
	if_freenameindex(ifs);
	if (!dev[0])
		ct_die("no device");
}

static socklen_t addr_of(const char *ip, unsigned port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof *ss);
	if (family == AF_INET) {
		*(struct sockaddr_in *)ss = ct_addr(ip, port);
		return sizeof(struct sockaddr_in);
	}
	*(struct sockaddr_in6 *)ss = ct_addr6(ip, port);
	return sizeof(struct sockaddr_in6);
}

static int on(int type, const char *name, const char *what)
{
	int s = socket(family, type, 0);
	if (s < 0)
		ct_die("socket");
	if (setsockopt(s, SOL_SOCKET, SO_BINDTODEVICE, name, strlen(name)) < 0)
		ct_die("SO_BINDTODEVICE %s", name);
	t_log("%s: SO_BINDTODEVICE %s", what, strcmp(name, "lo") ? "device" : "lo");
	return s;
}

static void send_to(int s, const char *ip, unsigned port, const char *what)
{
	struct sockaddr_storage a;
	socklen_t l = addr_of(ip, port, &a);
	T_CALL(what, sendto(s, what, strlen(what), 0, (struct sockaddr *)&a, l));
}

// Connect without waiting, then say whether it completed within 500 ms
// and from which address (`show`: IPv6 to ::1 through the device takes a
// link-local source once the device's has passed duplicate address
// detection, a matter of timing, so that one is not printed).
static void connect_to(int s, const char *ip, unsigned port, const char *what, int show)
{
	struct sockaddr_storage a;
	socklen_t l = addr_of(ip, port, &a);
	ct_set_nonblock(s, 1);
	long r = connect(s, (struct sockaddr *)&a, l);
	if (r == 0 || errno != EINPROGRESS) {
		t_ret(what, r, errno);
	} else {
		struct pollfd p = { .fd = s, .events = POLLOUT };
		int n = poll(&p, 1, 500);
		t_log("%s: in progress, after 500 ms %s", what, n == 0 ? "still" : "done");
		if (n > 0) {
			int e = ct_getint(s, SOL_SOCKET, SO_ERROR);
			t_log("  SO_ERROR %s", e ? t_errname(e) : "0");
		}
	}
	if (show)
		t_sockname("  local", s);
}

// One family's run: `self`, `peer`, `lo` are its addresses; the peer
// listens (UDP, TCP) in IPv4 only.
static void run(int fam, const char *self, const char *peer, const char *lo)
{
	family = fam;
	t_log("==== %s", fam == AF_INET ? "IPv4" : "IPv6");
	struct sockaddr_storage any;
	socklen_t al = addr_of(fam == AF_INET ? "0.0.0.0" : "::", P + 5, &any);
	int r = socket(fam, SOCK_DGRAM, 0);
	if (r < 0 || bind(r, (struct sockaddr *)&any, al) < 0)
		ct_die("bind receiver");

	t_log("== UDP");
	int s = on(SOCK_DGRAM, dev, "s");
	send_to(s, peer, P, "to the peer");
	t_sockname("  local", s);
	send_to(s, self, P + 5, "to our device address");
	t_recvfrom("  received", r, 2000);
	send_to(s, lo, P + 5, "to loopback");
	t_recvfrom("  received", r, 300);
	close(s);
	s = on(SOCK_DGRAM, "lo", "s");
	send_to(s, lo, P + 5, "to loopback");
	t_recvfrom("  received", r, 2000);
	send_to(s, self, P + 5, "to our device address");
	t_recvfrom("  received", r, 300);
	send_to(s, peer, P, "from lo to the peer");
	close(s);

	t_log("== TCP");
	int l = socket(fam, SOCK_STREAM, 0);
	addr_of(fam == AF_INET ? "0.0.0.0" : "::", P + 6, &any);
	if (l < 0 || bind(l, (struct sockaddr *)&any, al) < 0 || listen(l, 8) < 0)
		ct_die("listen");
	int c = on(SOCK_STREAM, dev, "c");
	connect_to(c, lo, P + 6, "connect loopback", fam == AF_INET);
	close(c);
	c = on(SOCK_STREAM, dev, "c");
	connect_to(c, self, P + 6, "connect our device address", 1);
	close(c);
	c = on(SOCK_STREAM, "lo", "c");
	connect_to(c, self, P + 6, "connect our device address", 1);
	close(c);
	c = on(SOCK_STREAM, "lo", "c");
	connect_to(c, peer, P + 2, "connect the peer", 1);
	close(c);
	if (fam == AF_INET) {
		c = on(SOCK_STREAM, dev, "c");
		connect_to(c, peer, P + 2, "connect the peer", 1);
		close(c);
	}
	close(l);
	close(r);
}

int main(void)
{
	find_dev();
	run(AF_INET, SELF_IP, PEER_IP, "127.0.0.1");
	run(AF_INET6, SELF_IP6, PEER_IP6, "::1");
	ct_peer_report(P);
	return 0;
}
