// CHECKS: readiness of AF_INET6 sockets with an IPv6 peer (the IPv4 cases
// of 028, 152 over IPv6): poll on a listener before and after a
// connection is queued, a non-blocking accept; epoll on the connection:
// idle, EPOLLIN|EPOLLRDHUP after the peer's half-close, send still
// works, EPOLLHUP|EPOLLERR after the peer's reset, SO_ERROR EPIPE (a
// reset in CLOSE_WAIT, as Linux's tcp_reset), then send EPIPE.
// PEER: connect 21980 send:hi shutwr recv:5 signal:got wait:b rst
// IPV6: yes
// NORMALISED: the peer's ephemeral port prints as EPHEMERAL.
#include "trace.h"
#include <sys/epoll.h>

#define P 21980

int main(void)
{
	int l = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK, 0);
	struct sockaddr_in6 a = ct_addr6("::", P);
	T_CALL("bind [::]", bind(l, (struct sockaddr *)&a, sizeof a));
	T_CALL("listen", listen(l, 4));
	struct pollfd p = { .fd = l, .events = POLLIN | POLLOUT };
	T_CALL("poll listener, nothing queued", poll(&p, 1, 0));
	T_CALL("accept nothing queued", accept(l, NULL, NULL));
	ct_signal("listening");
	T_CALL("poll listener 5 s", poll(&p, 1, 5000));
	t_revents("  revents", p.revents);
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	int c = T_CALL("accept4", accept4(l, (struct sockaddr *)&ss, &len, 0));
	t_log("  from %s len %u", t_addrstr((struct sockaddr *)&ss, len), (unsigned)len);
	int ep = epoll_create1(0);
	struct epoll_event e = { .events = EPOLLIN | EPOLLRDHUP, .data.fd = c }, out;
	epoll_ctl(ep, EPOLL_CTL_ADD, c, &e);
	ct_wait_bytes(c, 2, 5000);
	ct_sleep_ms(100);
	T_CALL("epoll_wait", epoll_wait(ep, &out, 1, 5000));
	t_revents("  events", out.events);
	char buf[8];
	long n = T_CALL("recv", recv(c, buf, sizeof buf, 0));
	t_data("  data", buf, n);
	T_CALL("recv EOF", recv(c, buf, sizeof buf, 0));
	T_CALL("send after the peer's half-close", send(c, "still", 5, 0));
	ct_wait("got", 5000);
	ct_signal("b");
	ct_wait_event(c, POLLIN, POLLERR, 5000);
	T_CALL("epoll_wait after reset", epoll_wait(ep, &out, 1, 0));
	t_revents("  events", out.events);
	T_EQ("SO_ERROR", ct_getint(c, SOL_SOCKET, SO_ERROR), EPIPE);
	T_CALL("send", send(c, "x", 1, MSG_NOSIGNAL));
	ct_peer_report(P);
	return 0;
}
