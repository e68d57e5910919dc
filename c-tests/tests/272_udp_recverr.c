// CHECKS: ICMP errors on the error queue (IP_RECVERR) as Linux: a UDP
// datagram to a closed port of the peer comes back as an ICMP port
// unreachable; without IP_RECVERR an unconnected socket hears nothing and
// a connected one gets ECONNREFUSED as its pending error only; with it
// any socket gets the error pending and queued: POLLERR while the queue
// is not empty, recvmsg(MSG_ERRQUEUE) gives the quoted payload as data,
// the original destination as the name, MSG_ERRQUEUE (and MSG_TRUNC for a
// short buffer) in msg_flags and an IP_RECVERR control message with the
// sock_extended_err (ECONNREFUSED, SO_EE_ORIGIN_ICMP, type 3, code 3) and
// the offender's address; the pending error follows the queue; recv()
// with MSG_ERRQUEUE gives the payload; an empty queue is EAGAIN.
// PEER: none
// NORMALISED: nothing (each wait is for the ICMP error, up to 2 s). The
// peer's kernel sends six ICMP errors at once, then one a second
// (icmp_ratelimit): the test sends seven, with a pause before the last
// two sections.
#include "trace.h"
#include <linux/errqueue.h>

#define P 22720
#define CLOSED (P + 9)

static int so_error(int fd)
{
	return ct_getint(fd, SOL_SOCKET, SO_ERROR);
}

static void wait_err(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	T_CALL("poll for the error", poll(&p, 1, 2000));
	t_revents("  revents", p.revents);
}

static void errqueue(int fd, size_t room)
{
	char data[64] = { 0 };
	char ctl[128];
	struct sockaddr_in name;
	memset(&name, 0xaa, sizeof name);
	struct iovec iov = { .iov_base = data, .iov_len = room };
	struct msghdr m = {
		.msg_name = &name,
		.msg_namelen = sizeof name,
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = ctl,
		.msg_controllen = sizeof ctl,
	};
	long n = recvmsg(fd, &m, MSG_ERRQUEUE);
	t_ret("recvmsg MSG_ERRQUEUE", n, errno);
	if (n < 0)
		return;
	t_data("  data", data, n);
	t_log("  msg_flags: MSG_ERRQUEUE %d MSG_TRUNC %d MSG_CTRUNC %d", !!(m.msg_flags & MSG_ERRQUEUE),
	      !!(m.msg_flags & MSG_TRUNC), !!(m.msg_flags & MSG_CTRUNC));
	t_log("  name: %s", t_addrstr((struct sockaddr *)&name, m.msg_namelen));
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
		t_log("  cmsg level %d type %d len %zu", c->cmsg_level, c->cmsg_type, (size_t)c->cmsg_len);
		if (c->cmsg_level != SOL_IP || c->cmsg_type != IP_RECVERR)
			continue;
		struct sock_extended_err *ee = (void *)CMSG_DATA(c);
		t_log("  ee_errno %s origin %u type %u code %u pad %u info %u data %u", t_errname(ee->ee_errno),
		      ee->ee_origin, ee->ee_type, ee->ee_code, ee->ee_pad, ee->ee_info, ee->ee_data);
		struct sockaddr *off = SO_EE_OFFENDER(ee);
		t_log("  offender: %s", t_addrstr(off, sizeof(struct sockaddr_in)));
	}
}

int main(void)
{
	struct sockaddr_in closed = ct_addr(PEER_IP, CLOSED);
	char buf[16];

	t_log("== without IP_RECVERR, unconnected");
	int u = ct_udp(P);
	T_CALL("sendto", sendto(u, "hello", 5, 0, (struct sockaddr *)&closed, sizeof closed));
	ct_sleep_ms(300);
	T_EQ("SO_ERROR", so_error(u), 0);
	T_CALL("recv MSG_ERRQUEUE", recv(u, buf, sizeof buf, MSG_ERRQUEUE));
	close(u);

	t_log("== without IP_RECVERR, connected");
	u = ct_udp(P + 1);
	T_CALL("connect", connect(u, (struct sockaddr *)&closed, sizeof closed));
	T_CALL("send", send(u, "hello", 5, 0));
	wait_err(u);
	errqueue(u, sizeof buf);
	T_CALL("send again", send(u, "hello", 5, 0));
	close(u);

	t_log("== IP_RECVERR, unconnected");
	u = ct_udp(P + 2);
	ct_setint(u, SOL_IP, IP_RECVERR, 1);
	T_CALL("sendto", sendto(u, "hello", 5, 0, (struct sockaddr *)&closed, sizeof closed));
	wait_err(u);
	errqueue(u, 64);
	struct pollfd p = { .fd = u, .events = POLLIN };
	T_CALL("poll after", poll(&p, 1, 0));
	t_revents("  revents", p.revents);
	T_EQ("SO_ERROR after", so_error(u), 0);
	errqueue(u, 64);

	ct_sleep_ms(1100);
	t_log("== IP_RECVERR: two errors, the pending error follows the queue");
	T_CALL("sendto 1", sendto(u, "first", 5, 0, (struct sockaddr *)&closed, sizeof closed));
	wait_err(u);
	T_EQ("SO_ERROR", so_error(u), ECONNREFUSED);
	T_CALL("sendto 2", sendto(u, "second", 6, 0, (struct sockaddr *)&closed, sizeof closed));
	// POLLERR is up already (the first entry): give the second error time.
	ct_sleep_ms(500);
	errqueue(u, 2);
	T_EQ("SO_ERROR between", so_error(u), ECONNREFUSED);
	p.revents = 0;
	T_CALL("poll between", poll(&p, 1, 0));
	t_revents("  revents", p.revents);
	memset(buf, 0, sizeof buf);
	T_CALL("recv MSG_ERRQUEUE", recv(u, buf, sizeof buf, MSG_ERRQUEUE));
	t_data("  data", buf, 6);
	T_EQ("SO_ERROR", so_error(u), 0);
	T_CALL("recv MSG_ERRQUEUE empty", recv(u, buf, sizeof buf, MSG_ERRQUEUE));
	close(u);

	ct_sleep_ms(1100);
	t_log("== IP_RECVERR, connected");
	u = ct_udp(P + 3);
	ct_setint(u, SOL_IP, IP_RECVERR, 1);
	T_CALL("connect", connect(u, (struct sockaddr *)&closed, sizeof closed));
	T_CALL("send", send(u, "hello", 5, 0));
	wait_err(u);
	errqueue(u, 64);
	T_CALL("send again", send(u, "again", 5, 0));
	wait_err(u);
	T_CALL("recv", recv(u, buf, sizeof buf, MSG_DONTWAIT));
	errqueue(u, 64);
	close(u);
	return 0;
}
