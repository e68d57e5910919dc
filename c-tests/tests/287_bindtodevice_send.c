// CHECKS: SO_BINDTODEVICE decides where a socket's sends go, as Linux's
// route lookup with the socket's device as output interface: bound to
// the device, a datagram to the peer goes out and one to an address of
// ours on the device is delivered, while 127.0.0.1 (on lo) is not
// reachable through the device; bound to lo, what is sent to the peer
// never reaches it and a connect to it does not complete, while an
// address of ours is reached. Source addresses are printed with
// getsockname.
// PEER: udp 22870 recv recv
// PEER: tcp 22872 echo
// NORMALISED: waits for what must not arrive are 300-500 ms.
#include <net/if.h>
#include "trace.h"

#define P 22870

// The interface that is not lo: cta on the kernel side, sockshim0 under
// the shim.
static char dev[IF_NAMESIZE];

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

static int on(int type, const char *name, const char *what)
{
	int s = ct_socket(type);
	if (setsockopt(s, SOL_SOCKET, SO_BINDTODEVICE, name, strlen(name)) < 0)
		ct_die("SO_BINDTODEVICE %s", name);
	t_log("%s: SO_BINDTODEVICE %s", what, strcmp(name, "lo") ? "device" : "lo");
	return s;
}

static void send_to(int s, const char *ip, unsigned port, const char *what)
{
	struct sockaddr_in a = ct_addr(ip, port);
	T_CALL(what, sendto(s, what, strlen(what), 0, (struct sockaddr *)&a, sizeof a));
}

static void connect_to(int s, const char *ip, unsigned port, const char *what)
{
	struct sockaddr_in a = ct_addr(ip, port);
	ct_set_nonblock(s, 1);
	long r = connect(s, (struct sockaddr *)&a, sizeof a);
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
	t_sockname("  local", s);
}

int main(void)
{
	find_dev();
	int r = ct_socket(SOCK_DGRAM);
	struct sockaddr_in any = ct_addr("0.0.0.0", P + 5);
	if (bind(r, (struct sockaddr *)&any, sizeof any) < 0)
		ct_die("bind receiver");

	t_log("== UDP");
	int s = on(SOCK_DGRAM, dev, "s");
	send_to(s, PEER_IP, P, "to the peer");
	t_sockname("  local", s);
	send_to(s, SELF_IP, P + 5, "to our device address");
	t_recvfrom("  received", r, 2000);
	send_to(s, "127.0.0.1", P + 5, "to 127.0.0.1");
	t_recvfrom("  received", r, 300);
	close(s);
	s = on(SOCK_DGRAM, "lo", "s");
	send_to(s, "127.0.0.1", P + 5, "to 127.0.0.1");
	t_recvfrom("  received", r, 2000);
	send_to(s, SELF_IP, P + 5, "to our device address");
	t_recvfrom("  received", r, 300);
	send_to(s, PEER_IP, P, "from lo to the peer");
	close(s);

	t_log("== TCP");
	int l = ct_socket(SOCK_STREAM);
	struct sockaddr_in la = ct_addr("0.0.0.0", P + 6);
	if (bind(l, (struct sockaddr *)&la, sizeof la) < 0 || listen(l, 8) < 0)
		ct_die("listen");
	int c = on(SOCK_STREAM, dev, "c");
	connect_to(c, "127.0.0.1", P + 6, "connect 127.0.0.1");
	close(c);
	c = on(SOCK_STREAM, dev, "c");
	connect_to(c, SELF_IP, P + 6, "connect our device address");
	close(c);
	c = on(SOCK_STREAM, "lo", "c");
	connect_to(c, SELF_IP, P + 6, "connect our device address");
	close(c);
	c = on(SOCK_STREAM, "lo", "c");
	connect_to(c, PEER_IP, P + 2, "connect the peer");
	close(c);
	c = on(SOCK_STREAM, dev, "c");
	connect_to(c, PEER_IP, P + 2, "connect the peer");
	close(c);
	close(l);
	close(r);
	ct_peer_report(P);
	return 0;
}
