// CHECKS: a loopback reservation (issue 19) belongs to the socket, not to
// one process: a listener on 127.0.0.1 inherited across fork + exec
// still holds its port in the kernel's port space (a kernel bind is
// EADDRINUSE) and the exec'd image accepts a kernel client's connection
// on it, woken by poll; a socket bound before fork that the parent makes
// listen after it, and one the parent binds and makes listen after the
// fork, are both reached by a kernel client through the child's accept.
// PEER: none
// NORMALISED: peer ports are printed as EPHEMERAL.
#include "kernel_side.h"

#define P 22920

static void kernel_bind(int port, int reuse)
{
	int r;
	ks_t k = ks_start(reuse ? "listen" : "bind", "127.0.0.1", port, reuse, &r);
	t_log("kernel %s 127.0.0.1:%d = %s", reuse ? "listen (SO_REUSEADDR)" : "bind", port,
	      r ? t_errname(r) : "0");
	ks_stop(k);
}

// Accept one kernel client's connection on `l` and answer it.
static void serve_kernel_client(const char *who, int l, int port)
{
	int r;
	ks_t k = ks_start("connect", "127.0.0.1", port, 0, &r);
	t_log("%s: kernel connect = %s", who, r ? t_errname(r) : "0");
	struct pollfd p = {.fd = l, .events = POLLIN};
	int n = poll(&p, 1, 3000);
	t_log("%s: poll = %d, revents %s", who, n, t_pollstr(p.revents));
	int c = accept(l, NULL, NULL);
	t_ret("accept", c, errno);
	if (c >= 0) {
		t_recv_shown(who, c, 6);
		send(c, "ok", 2, MSG_NOSIGNAL);
		close(c);
		t_log("%s: the kernel client got %d bytes", who, ks_next(k));
	}
	ks_stop(k);
}

static int tcp_socket(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	return fd;
}

static void bind_lo(int fd, int port)
{
	struct sockaddr_in a = ct_addr("127.0.0.1", port);
	T_CALL("bind 127.0.0.1", bind(fd, (struct sockaddr *)&a, sizeof a));
}

// fork; the child waits for the parent's go, accepts a kernel client.
static pid_t child_serves(int l, int go, int port)
{
	pid_t pid = ct_fork();
	if (pid == 0) {
		ct_wait_go(go);
		serve_kernel_client("child", l, port);
		fflush(stdout);
		_exit(0);
	}
	return pid;
}

int main(int argc, char **argv)
{
	ks_main(argc, argv);
	int l = ct_exec_arg(argc, argv);
	if (l >= 0) {
		t_log("-- the exec'd image");
		kernel_bind(P, 0);
		serve_kernel_client("exec'd", l, P);
		T_CALL("exec'd: close", close(l));
		kernel_bind(P, 1);
		return 0;
	}
	int go[2];
	ct_go_pipe(go);

	t_log("-- bound before fork, listen after it in the parent");
	l = tcp_socket();
	bind_lo(l, P + 1);
	pid_t pid = child_serves(l, go[0], P + 1);
	T_CALL("parent: listen", listen(l, 8));
	ct_go(go[1]);
	ct_wait_child(pid);
	close(l);

	t_log("-- socket before fork, bind and listen after it in the parent");
	l = tcp_socket();
	pid = child_serves(l, go[0], P + 2);
	bind_lo(l, P + 2);
	T_CALL("parent: listen", listen(l, 8));
	ct_go(go[1]);
	ct_wait_child(pid);
	close(l);

	t_log("-- a listener inherited across fork + exec");
	l = tcp_socket();
	bind_lo(l, P);
	T_CALL("listen", listen(l, 8));
	pid = ct_fork();
	if (pid == 0) {
		ct_wait_go(go[0]); // the parent closed its copy
		ct_exec_self(argv[0], l);
	}
	T_CALL("parent: close its copy", close(l));
	ct_go(go[1]);
	ct_wait_child(pid);
	return 0;
}
