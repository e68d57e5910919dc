// CHECKS: socket() in a burst (back to back, as a client that connects
// again and again makes them) gives the lowest free descriptor each time,
// as Linux: after closes in the middle, with SOCK_CLOEXEC and SOCK_NONBLOCK
// (the flags on exactly the sockets that asked), with a UDP socket amid
// TCP ones (each the type asked for), in a forked child (its own lowest
// numbers; the child's sockets work), and up to RLIMIT_NOFILE (EMFILE at
// the same count). A socket of the burst connects and echoes. (Under the
// stack service a burst takes sockets made ahead: docs/architecture.md,
// "Sockets made ahead".)
// PEER: tcp 23200 echo
// NORMALISED: nothing.
#include "trace.h"
#include <fcntl.h>
#include <sys/resource.h>

#define P 23200

static int sock(int type)
{
	int fd = socket(AF_INET, type, 0);
	if (fd < 0)
		t_log("socket: -1 %s", t_errname(errno));
	return fd;
}

static void show_type(const char *what, int fd)
{
	t_log("%s: SO_TYPE %s", what,
	      ct_getint(fd, SOL_SOCKET, SO_TYPE) == SOCK_STREAM ? "STREAM" : "DGRAM");
}

int main(void)
{
	int fds[12];
	for (int i = 0; i < 10; i++)
		fds[i] = sock(SOCK_STREAM);
	for (int i = 0; i < 10; i++)
		t_log("burst socket %d: fd %d", i, fds[i]);
	close(fds[2]);
	close(fds[5]);
	T_EQ("after closing fds 5 and 8: first new fd", sock(SOCK_STREAM), 5);
	T_EQ("second new fd", sock(SOCK_STREAM), 8);

	int c1 = sock(SOCK_STREAM | SOCK_CLOEXEC);
	int c2 = sock(SOCK_STREAM | SOCK_CLOEXEC);
	int plain = sock(SOCK_STREAM);
	int nb = sock(SOCK_STREAM | SOCK_NONBLOCK);
	t_log("cloexec fds %d %d, plain %d, nonblock %d", c1, c2, plain, nb);
	T_EQ("FD_CLOEXEC on the first SOCK_CLOEXEC socket", fcntl(c1, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	T_EQ("FD_CLOEXEC on the second", fcntl(c2, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	T_EQ("FD_CLOEXEC on the plain socket", fcntl(plain, F_GETFD) & FD_CLOEXEC, 0);
	T_EQ("O_NONBLOCK on the SOCK_NONBLOCK socket", fcntl(nb, F_GETFL) & O_NONBLOCK, O_NONBLOCK);
	T_EQ("O_NONBLOCK on the plain socket", fcntl(plain, F_GETFL) & O_NONBLOCK, 0);

	int t1 = sock(SOCK_STREAM);
	int u = sock(SOCK_DGRAM);
	int t2 = sock(SOCK_STREAM);
	int t3 = sock(SOCK_STREAM);
	t_log("tcp %d, udp %d, tcp %d, tcp %d", t1, u, t2, t3);
	show_type("tcp before the udp", t1);
	show_type("udp", u);
	show_type("tcp after the udp", t2);
	show_type("next tcp", t3);

	struct sockaddr_in a = ct_addr(PEER_IP, P);
	T_CALL("connect a burst socket", connect(t3, (struct sockaddr *)&a, sizeof a));
	t_echo("burst socket", t3, "abc");

	pid_t pid = ct_fork();
	if (pid == 0) {
		int k[3];
		for (int i = 0; i < 3; i++)
			k[i] = sock(SOCK_STREAM);
		t_log("child: fds %d %d %d", k[0], k[1], k[2]);
		T_CALL("child: connect its third", connect(k[2], (struct sockaddr *)&a, sizeof a));
		t_echo("child", k[2], "child");
		fflush(stdout);
		_exit(0);
	}
	ct_wait_child(pid);
	int after = sock(SOCK_STREAM);
	T_EQ("parent after the child: next fd", after, t3 + 1);

	struct rlimit old, low;
	getrlimit(RLIMIT_NOFILE, &old);
	low = old;
	low.rlim_cur = after + 3;
	if (setrlimit(RLIMIT_NOFILE, &low) < 0)
		ct_die("setrlimit");
	for (int i = 0; i < 3; i++) {
		int fd = sock(SOCK_STREAM);
		t_log("under RLIMIT_NOFILE %d: socket %d: fd %d", (int)low.rlim_cur, i, fd);
	}
	setrlimit(RLIMIT_NOFILE, &old);
	T_EQ("limit restored: next fd", sock(SOCK_STREAM), after + 3);

	ct_sleep_ms(30);
	T_EQ("30 ms later: next fd", sock(SOCK_STREAM), after + 4);
	return 0;
}
