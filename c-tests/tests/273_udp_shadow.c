// CHECKS: a UDP socket bound to 127.0.0.1 or to 0.0.0.0 receives a
// datagram a kernel program sends to 127.0.0.1 (issue 19's UDP shadow),
// with the sender's address, and its reply reaches that program; poll
// wakes for the kernel's datagram; a datagram from a socket of the
// program itself still arrives; the socket keeps its name; an empty
// socket is EAGAIN without waiting; epoll wakes for the kernel's datagram,
// whether the socket was added before or after its bind.
// PEER: none
// NORMALISED: the kernel client's port prints as EPHEMERAL.
#include "kernel_side.h"
#include <sys/epoll.h>

#define P 22730

static void one(const char *bind_ip, int port)
{
	t_log("== bound to %s", bind_ip);
	int u = ct_socket(SOCK_DGRAM);
	struct sockaddr_in a = ct_addr(bind_ip, port);
	T_CALL("bind", bind(u, (struct sockaddr *)&a, sizeof a));
	char buf[64];
	T_CALL("recv MSG_DONTWAIT", recv(u, buf, sizeof buf, MSG_DONTWAIT));
	int first;
	ks_t k = ks_start("uconnect", "127.0.0.1", port, 0, &first);
	t_log("kernel client connect: %s", first ? t_errname(first) : "0");
	struct pollfd p = { .fd = u, .events = POLLIN };
	T_CALL("poll", poll(&p, 1, 3000));
	t_revents("  revents", p.revents);
	struct sockaddr_in from;
	socklen_t fl = sizeof from;
	long n = recvfrom(u, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
	t_ret("recvfrom", n, errno);
	t_data("  data", buf, n > 0 ? n : 0);
	t_log("  from %s port %s", inet_ntoa(from.sin_addr), t_portstr(ntohs(from.sin_port)));
	T_CALL("sendto the kernel client", sendto(u, "reply!", 6, 0, (struct sockaddr *)&from, fl));
	t_log("kernel client got: %d", ks_next(k));
	ks_stop(k);
	t_sockname("getsockname", u);
	// A datagram of our own still arrives.
	int c = ct_socket(SOCK_DGRAM);
	struct sockaddr_in to = ct_addr("127.0.0.1", port);
	T_CALL("sendto from a socket of ours", sendto(c, "ours", 4, 0, (struct sockaddr *)&to, sizeof to));
	T_CALL("recv", recv(u, buf, sizeof buf, 0));
	t_data("  data", buf, 4);
	close(c);
	close(u);
}

static void with_epoll(int add_first, int port)
{
	t_log("== epoll, added %s the bind", add_first ? "before" : "after");
	int ep = epoll_create1(0);
	int u = ct_socket(SOCK_DGRAM);
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = u };
	if (add_first)
		T_CALL("epoll_ctl ADD", epoll_ctl(ep, EPOLL_CTL_ADD, u, &ev));
	struct sockaddr_in a = ct_addr("0.0.0.0", port);
	T_CALL("bind", bind(u, (struct sockaddr *)&a, sizeof a));
	if (!add_first)
		T_CALL("epoll_ctl ADD", epoll_ctl(ep, EPOLL_CTL_ADD, u, &ev));
	struct epoll_event out[4];
	T_CALL("epoll_wait, nothing yet", epoll_wait(ep, out, 4, 0));
	int first;
	ks_t k = ks_start("uconnect", "127.0.0.1", port, 0, &first);
	int n = epoll_wait(ep, out, 4, 3000);
	t_ret("epoll_wait", n, errno);
	if (n > 0)
		t_log("  fd is ours: %s, events %s", out[0].data.fd == u ? "yes" : "no",
		      t_pollstr(out[0].events));
	char buf[64];
	struct sockaddr_in from;
	socklen_t fl = sizeof from;
	T_CALL("recvfrom", recvfrom(u, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl));
	T_CALL("sendto", sendto(u, "reply!", 6, 0, (struct sockaddr *)&from, fl));
	t_log("kernel client got: %d", ks_next(k));
	ks_stop(k);
	T_CALL("epoll_wait, drained", epoll_wait(ep, out, 4, 0));
	close(u);
	close(ep);
}

int main(int argc, char **argv)
{
	ks_main(argc, argv);
	one("127.0.0.1", P);
	one("0.0.0.0", P + 1);
	with_epoll(1, P + 2);
	with_epoll(0, P + 3);
	return 0;
}
