// CHECKS: a port stays busy while a forked child holds its socket, and is
// free when the child's close() returns (the parent binds it after the
// child says it closed, while the child still lives) or once the child
// has exited by _exit() (the parent reaped it): UDP on 127.0.0.1
// (which the shim also holds in the kernel's port space), TCP listeners
// on the wildcard and on our address; the same fifteen times in a row.
// PEER: none
// NORMALISED: nothing.
#include "rounds.h"
#include <sys/wait.h>

#define P 23020
#define FORK_ROUNDS 15

// A forked child holds the socket; the parent closes its copy (the port
// stays busy), then the child lets go of its own, by close() (it says so
// and waits: its exit frees nothing) or by _exit() (the parent reaps it):
// the port is free from then on.
static void child_holds(int ty, const char *ip, int by_exit)
{
	struct tally t = { 0 };
	for (int i = 0; i < FORK_ROUNDS; i++) {
		int fd = sock(ty, 0);
		if (bind_to(fd, ip, P) < 0 || (ty == SOCK_STREAM && listen(fd, 8) < 0)) {
			fail(&t, i, "bind", errno);
			close(fd);
			continue;
		}
		int go[2], done[2];
		ct_go_pipe(go);
		ct_go_pipe(done);
		pid_t pid = ct_fork();
		if (pid == 0) {
			close(go[1]);
			close(done[0]);
			ct_wait_go(go[0]);
			if (by_exit)
				_exit(0);
			close(fd);
			ct_go(done[1]);
			ct_wait_go(go[0]);
			_exit(0);
		}
		close(go[0]);
		close(done[1]);
		close(fd);
		int x = sock(ty, 0);
		if (bind_to(x, ip, P) == 0)
			fail(&t, i, "bind while the child holds it", 0);
		else if (errno != EADDRINUSE)
			fail(&t, i, "bind while the child holds it", errno);
		ct_go(go[1]);
		int st;
		char c;
		if (by_exit)
			waitpid(pid, &st, 0);
		else if (read(done[0], &c, 1) != 1)
			fail(&t, i, "child's word", errno);
		if (bind_to(x, ip, P) < 0)
			fail(&t, i, by_exit ? "bind after the child's exit" : "bind after the child's close", errno);
		if (!by_exit) {
			ct_go(go[1]);
			waitpid(pid, &st, 0);
		}
		close(go[1]);
		close(done[0]);
		close(x);
	}
	t_log("%s %s, held by a child:", ty == SOCK_STREAM ? "tcp listener" : "udp", ip);
	report(by_exit ? "  busy until the child's exit" : "  busy until the child's close", FORK_ROUNDS, &t);
}

int main(void)
{
	child_holds(SOCK_DGRAM, "127.0.0.1", 0);
	child_holds(SOCK_STREAM, "0.0.0.0", 0);
	child_holds(SOCK_STREAM, SELF_IP, 0);
	child_holds(SOCK_DGRAM, "127.0.0.1", 1);
	child_holds(SOCK_STREAM, "0.0.0.0", 1);
	child_holds(SOCK_STREAM, SELF_IP, 1);
	return 0;
}
