// CHECKS: one epoll set holding a socket and a pipe: each reports its own
// readiness with its own data; both at once when both are ready.
// PEER: tcp 21540 wait:a send:net wait:done
// NORMALISED: nothing.
#include "trace.h"
#include <sys/epoll.h>

#define P 21540

static void wait_show(int ep, const char *what, int ms)
{
	struct epoll_event ev[4];
	int n = epoll_wait(ep, ev, 4, ms);
	int sock = 0, pipe_ = 0;
	for (int i = 0; i < n; i++) {
		if (ev[i].data.u32 == 1)
			sock = ev[i].events;
		else
			pipe_ = ev[i].events;
	}
	t_log("%s: n=%d socket=%s pipe=%s", what, n, t_pollstr(sock), t_pollstr(pipe_));
}

int main(void)
{
	int fd = ct_connect(P);
	int pfd[2];
	if (pipe(pfd) < 0)
		ct_die("pipe");
	int ep = epoll_create1(0);
	struct epoll_event e = { .events = EPOLLIN, .data.u32 = 1 };
	epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
	e.data.u32 = 2;
	epoll_ctl(ep, EPOLL_CTL_ADD, pfd[0], &e);
	wait_show(ep, "nothing ready", 0);
	(void)!write(pfd[1], "p", 1);
	wait_show(ep, "pipe ready", 0);
	ct_signal("a");
	ct_wait_bytes(fd, 3, 5000);
	wait_show(ep, "both ready", 0);
	char buf[8];
	(void)!read(pfd[0], buf, 1);
	wait_show(ep, "socket ready", 0);
	recv(fd, buf, sizeof buf, 0);
	wait_show(ep, "nothing ready", 0);
	ct_signal("done");
	return 0;
}
