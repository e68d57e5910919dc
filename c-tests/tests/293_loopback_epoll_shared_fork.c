// CHECKS: a socket and an epoll set shared across fork, the socket
// connected by the parent to a listener on kernel sockets on 127.0.0.1
// (issue 19: it becomes a kernel socket): the child's epoll_wait on the
// shared set reports the one socket once, with the parent's connection's
// events, and the child reads the echo on its copy of the descriptor,
// which names the same connection.
// PEER: none
// NORMALISED: the socket's own port prints as EPHEMERAL.
#include "kernel_side.h"
#include <sys/epoll.h>

#define P 22930

int main(int argc, char **argv)
{
	ks_main(argc, argv);
	int r;
	ks_t k = ks_start("listen", "127.0.0.1", P, 0, &r);
	t_log("kernel listener on 127.0.0.1: %s", r ? t_errname(r) : "0");
	int ep = epoll_create1(0);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u32 = 42}, out[4];
	T_CALL("epoll_ctl ADD", epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev));
	int go[2];
	ct_go_pipe(go);
	pid_t pid = ct_fork();
	if (pid == 0) {
		ct_wait_go(go[0]);
		int n = epoll_wait(ep, out, 4, 3000);
		t_ret("child: epoll_wait", n, errno);
		for (int i = 0; i < n; i++)
			t_log("  events %s data %u", t_pollstr(out[i].events), out[i].data.u32);
		t_recv_shown("child", fd, 4);
		T_CALL("child: send", send(fd, "pong", 4, MSG_NOSIGNAL));
		fflush(stdout);
		_exit(0);
	}
	struct sockaddr_in a = ct_addr("127.0.0.1", P);
	r = connect(fd, (struct sockaddr *)&a, sizeof a);
	t_log("parent: connect = %s", r == 0 ? "0" : t_errname(errno));
	struct pollfd p = {.fd = fd, .events = POLLOUT};
	T_CALL("parent: poll (connected)", poll(&p, 1, 3000));
	T_CALL("parent: send", send(fd, "ping", 4, 0));
	// The echo is there before the child looks.
	p.events = POLLIN;
	T_CALL("parent: poll (echo)", poll(&p, 1, 3000));
	ct_go(go[1]);
	ct_wait_child(pid);
	t_recv_shown("parent (the child's pong, echoed)", fd, 4);
	close(fd);
	close(ep);
	ks_stop(k);
	return 0;
}
