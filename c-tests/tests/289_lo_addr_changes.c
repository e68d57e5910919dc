// CHECKS: the stack follows the addresses the namespace gives lo while
// the program runs (RTM_NEWADDR / RTM_DELADDR on a netlink socket, as
// gVisor's netlink cases and `ip addr` do): an IPv4 address on lo makes
// its whole prefix local (bind to any of it, datagrams between them, the
// source of an unbound sender is lo's address, a TCP connection) and its
// broadcast address reaches every socket bound to it or to 0.0.0.0 with
// SO_REUSEADDR, the sender's too; once deleted, its addresses cannot be
// bound. Deleting 127.0.0.1/8 makes 127.0.0.1 an address like any other,
// reached by the default route (the connect sends its SYN to the
// gateway, from the device's address) until it is added back.
// PEER: none
// NORMALISED: the SYN to the gateway gets no answer within 300 ms.
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include "trace.h"

#define P 22890

// Add (RTM_NEWADDR) or delete (RTM_DELADDR) an IPv4 address on lo and
// wait for the kernel's answer; returns 0 or -errno.
static int lo_addr(int cmd, const char *ip, int plen)
{
	struct {
		struct nlmsghdr nh;
		struct ifaddrmsg ifa;
		struct rtattr rta;
		struct in_addr a;
	} req;
	memset(&req, 0, sizeof req);
	req.nh.nlmsg_len = sizeof req;
	req.nh.nlmsg_type = cmd;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | (cmd == RTM_NEWADDR ? NLM_F_CREATE | NLM_F_EXCL : 0);
	req.nh.nlmsg_seq = 1;
	req.ifa.ifa_family = AF_INET;
	req.ifa.ifa_prefixlen = plen;
	req.ifa.ifa_index = 1;
	req.rta.rta_type = IFA_LOCAL;
	req.rta.rta_len = RTA_LENGTH(sizeof req.a);
	inet_pton(AF_INET, ip, &req.a);
	int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (s < 0)
		ct_die("netlink socket");
	if (send(s, &req, sizeof req, 0) != (long)sizeof req)
		ct_die("netlink send");
	char buf[512];
	long n = recv(s, buf, sizeof buf, 0);
	close(s);
	struct nlmsghdr *h = (struct nlmsghdr *)buf;
	if (n < (long)sizeof *h || h->nlmsg_type != NLMSG_ERROR)
		ct_die("netlink answer");
	return ((struct nlmsgerr *)NLMSG_DATA(h))->error;
}

static int udp_on(const char *ip, unsigned port, int share)
{
	int s = ct_socket(SOCK_DGRAM);
	if (share) {
		ct_setint(s, SOL_SOCKET, SO_REUSEADDR, 1);
		ct_setint(s, SOL_SOCKET, SO_BROADCAST, 1);
	}
	struct sockaddr_in a = ct_addr(ip, port);
	char what[64];
	snprintf(what, sizeof what, "bind %s", ip);
	T_CALL(what, bind(s, (struct sockaddr *)&a, sizeof a));
	return s;
}

static void send_to(int s, const char *ip, unsigned port, const char *what)
{
	struct sockaddr_in a = ct_addr(ip, port);
	T_CALL(what, sendto(s, "hello", 5, 0, (struct sockaddr *)&a, sizeof a));
}

int main(void)
{
	t_log("add 192.0.2.1/24 to lo = %d", lo_addr(RTM_NEWADDR, "192.0.2.1", 24));
	int a = udp_on("192.0.2.2", P, 0);
	int b = udp_on("192.0.2.254", P, 0);
	send_to(a, "192.0.2.254", P, "sendto 192.0.2.254");
	t_recvfrom("  received", b, 2000);
	int u = ct_socket(SOCK_DGRAM);
	send_to(u, "192.0.2.254", P, "unbound sendto 192.0.2.254");
	t_recvfrom("  received", b, 2000);
	close(a);
	close(b);
	close(u);

	t_log("-- broadcast to 192.0.2.255");
	int s[4] = {
		udp_on("192.0.2.255", P + 1, 1), udp_on("192.0.2.255", P + 1, 1),
		udp_on("0.0.0.0", P + 1, 1), udp_on("0.0.0.0", P + 1, 1),
	};
	for (int w = 0; w < 4; w += 3) {
		t_log("from socket %d", w);
		send_to(s[w], "192.0.2.255", P + 1, "  sendto 192.0.2.255");
		for (int r = 0; r < 4; r++)
			t_recvfrom("  received", s[r], 2000);
	}
	for (int i = 0; i < 4; i++)
		close(s[i]);

	t_log("-- TCP");
	int l = ct_socket(SOCK_STREAM);
	struct sockaddr_in la = ct_addr("192.0.2.7", P + 2);
	T_CALL("bind 192.0.2.7", bind(l, (struct sockaddr *)&la, sizeof la));
	T_CALL("listen", listen(l, 4));
	int c = ct_socket(SOCK_STREAM);
	T_CALL("connect 192.0.2.7", connect(c, (struct sockaddr *)&la, sizeof la));
	t_sockname("  local", c);
	int acc = T_CALL("accept", accept(l, NULL, NULL));
	if (acc >= 0)
		close(acc);
	close(c);
	close(l);

	t_log("delete 192.0.2.1/24 = %d", lo_addr(RTM_DELADDR, "192.0.2.1", 24));
	close(udp_on("192.0.2.2", P + 3, 0));
	close(udp_on("192.0.2.255", P + 3, 1));

	t_log("-- 127.0.0.1");
	t_log("delete 127.0.0.1/8 = %d", lo_addr(RTM_DELADDR, "127.0.0.1", 8));
	struct sockaddr_in lo = ct_addr("127.0.0.1", P + 4);
	u = ct_socket(SOCK_DGRAM);
	T_CALL("UDP connect 127.0.0.1", connect(u, (struct sockaddr *)&lo, sizeof lo));
	t_sockname("  local", u);
	close(u);
	c = ct_socket(SOCK_STREAM);
	ct_set_nonblock(c, 1);
	T_CALL("TCP connect 127.0.0.1", connect(c, (struct sockaddr *)&lo, sizeof lo));
	t_log("  after 300 ms: %s", ct_wait_event(c, POLLOUT, POLLOUT, 300) ? "done" : "still connecting");
	t_sockname("  local", c);
	close(c);
	close(udp_on("127.0.0.1", P + 4, 0));
	t_log("add 127.0.0.1/8 = %d", lo_addr(RTM_NEWADDR, "127.0.0.1", 8));
	b = udp_on("127.0.0.1", P + 4, 0);
	u = ct_socket(SOCK_DGRAM);
	send_to(u, "127.0.0.1", P + 4, "sendto 127.0.0.1");
	t_recvfrom("  received", b, 2000);
	close(u);
	close(b);
	return 0;
}
