// CHECKS: edge-triggered epoll: one EPOLLIN per arrival, none while the
// data sits unread, a new edge when more data arrives; EPOLLOUT edge once.
// PEER: tcp 21510 wait:a send:one wait:b send:two wait:done
// NORMALISED: nothing.
#include "trace.h"
#include <sys/epoll.h>

#define P 21510

static void wait_show(int ep, const char *what, int ms)
{
	struct epoll_event ev[4];
	int n = epoll_wait(ep, ev, 4, ms);
	t_log("%s: epoll_wait = %d%s%s", what, n, n > 0 ? " events " : "",
	      n > 0 ? t_pollstr(ev[0].events) : "");
}

int main(void)
{
	int fd = ct_connect(P);
	ct_set_nonblock(fd, 1);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event e = { .events = EPOLLIN | EPOLLOUT | EPOLLET, .data.fd = fd };
	epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
	wait_show(ep, "first wait", 0);
	wait_show(ep, "second wait", 0);
	ct_signal("a");
	wait_show(ep, "data arrives", 5000);
	ct_wait_bytes(fd, 3, 5000);
	wait_show(ep, "unread, no new edge", 100);
	ct_signal("b");
	wait_show(ep, "more data arrives", 5000);
	ct_wait_bytes(fd, 6, 5000);
	char buf[16];
	long n = recv(fd, buf, sizeof buf, 0);
	t_data("read", buf, n);
	T_CALL("recv drained", recv(fd, buf, sizeof buf, 0));
	wait_show(ep, "after draining", 0);
	ct_signal("done");
	return 0;
}
