// CHECKS: epoll around loopback with the kernel's stack (issue 19): a
// non-blocking socket added to an epoll set before its connect to a
// listener on kernel sockets on 127.0.0.1 (another process) keeps its
// entry, events and data: EPOLLOUT once connected, EPOLLIN when the echo
// comes back; a listener added to an epoll set before listen() is woken by
// a kernel-side connection that comes while epoll_wait sleeps.
// PEER: none
// NORMALISED: nothing.
#include "kernel_side.h"
#include <sys/epoll.h>

#define P 21840

int main(int argc, char **argv)
{
	ks_main(argc, argv);
	int r;
	ks_t k = ks_start("listen", "127.0.0.1", P + 1, 0, &r);
	t_log("kernel listener on 127.0.0.1: %s", r ? t_errname(r) : "0");
	int ep = epoll_create1(0);
	int fd = T_CALL("socket(NONBLOCK)", socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
	struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN | EPOLLET, .data.u32 = 42}, out[4];
	T_CALL("epoll_ctl ADD before connect", epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev));
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(P + 1)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	r = connect(fd, (struct sockaddr *)&a, sizeof a);
	t_log("connect = %s", r == 0 ? "0" : t_errname(errno));
	int n = T_CALL("epoll_wait (connected)", epoll_wait(ep, out, 4, 3000));
	if (n > 0)
		t_log("events %s data %u", t_pollstr(out[0].events & (EPOLLIN | EPOLLOUT)), out[0].data.u32);
	T_CALL("send", send(fd, "ping", 4, 0));
	n = T_CALL("epoll_wait (echo)", epoll_wait(ep, out, 4, 3000));
	if (n > 0)
		t_log("events %s data %u", t_pollstr(out[0].events & (EPOLLIN | EPOLLOUT)), out[0].data.u32);
	char b[8];
	long m = T_CALL("recv", recv(fd, b, sizeof b, 0));
	t_data("echo", b, m);
	T_CALL("epoll_ctl DEL", epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL));
	close(fd);
	ks_stop(k);

	int l = socket(AF_INET, SOCK_STREAM, 0);
	a.sin_port = htons(P + 2);
	T_CALL("bind 127.0.0.1", bind(l, (struct sockaddr *)&a, sizeof a));
	ev = (struct epoll_event){.events = EPOLLIN, .data.u32 = 7};
	T_CALL("epoll_ctl ADD before listen", epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev));
	T_CALL("listen", listen(l, 4));
	T_CALL("epoll_wait (nothing yet)", epoll_wait(ep, out, 4, 0));
	// The kernel client connects 150 ms later: epoll_wait must be woken.
	k = ks_start("dconnect", "127.0.0.1", P + 2, 150, &r);
	n = T_CALL("epoll_wait (kernel-side connection)", epoll_wait(ep, out, 4, 3000));
	t_log("kernel connect = %s", ks_next(k) ? "failed" : "0");
	if (n > 0)
		t_log("events %s data %u", t_pollstr(out[0].events), out[0].data.u32);
	int c = T_CALL("accept", accept(l, NULL, NULL));
	ct_wait_bytes(c, 6, 3000);
	m = recv(c, b, sizeof b, 0);
	t_data("got", b, m);
	send(c, "ok", 2, MSG_NOSIGNAL);
	t_log("kernel side got a %d-byte reply", ks_next(k));
	close(c);
	ks_stop(k);
	close(l);
	close(ep);
	return 0;
}
