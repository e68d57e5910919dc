// CHECKS: level-triggered epoll driving an echo exchange: EPOLLOUT when
// idle, EPOLLIN reported repeatedly while data stays unread, gone after
// reading; data.u64 is returned as registered.
// PEER: tcp 21500 echo
// NORMALISED: nothing.
#include "trace.h"
#include <sys/epoll.h>

#define P 21500

static void wait_show(int ep, const char *what, int ms)
{
	struct epoll_event ev[4];
	int n = epoll_wait(ep, ev, 4, ms);
	if (n < 0) {
		t_log("%s: epoll_wait = -1 %s", what, t_errname(errno));
		return;
	}
	t_log("%s: epoll_wait = %d", what, n);
	for (int i = 0; i < n; i++)
		t_log("  data %llu events 0x%x", (unsigned long long)ev[i].data.u64, ev[i].events);
}

int main(void)
{
	int fd = ct_connect(P);
	int ep = T_CALL("epoll_create1", epoll_create1(0));
	struct epoll_event e = { .events = EPOLLIN | EPOLLOUT, .data.u64 = 0x1234567890ULL };
	T_CALL("EPOLL_CTL_ADD", epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e));
	wait_show(ep, "idle", 0);
	e.events = EPOLLIN;
	T_CALL("EPOLL_CTL_MOD EPOLLIN", epoll_ctl(ep, EPOLL_CTL_MOD, fd, &e));
	wait_show(ep, "idle, EPOLLIN only", 0);
	send(fd, "ping", 4, 0);
	wait_show(ep, "echo arrives", 5000);
	ct_wait_bytes(fd, 4, 5000);
	wait_show(ep, "still unread", 0);
	char buf[8];
	recv(fd, buf, sizeof buf, 0);
	wait_show(ep, "after reading", 0);
	T_CALL("EPOLL_CTL_DEL", epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL));
	send(fd, "pong", 4, 0);
	ct_wait_bytes(fd, 4, 5000);
	wait_show(ep, "after DEL", 0);
	return 0;
}
