// CHECKS: a connected socket passed to another process with SCM_RIGHTS
// works there: the sender closes its copy, the receiver sends, reads the
// echo and closes (the last close: the peer sees EOF).
// PEER: tcp 21720 echo
// NORMALISED: nothing.
#include "trace.h"
#include <sys/wait.h>

#define P 21720

int main(void)
{
	int sv[2], go[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0 || pipe(go) < 0)
		ct_die("socketpair");
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		close(sv[0]);
		int fd = ct_recv_fd(sv[1]);
		char b;
		if (read(go[0], &b, 1) != 1) // the parent closed its copy
			_exit(1);
		T_CALL("child: send", send(fd, "passed", 6, 0));
		char buf[16];
		ct_wait_bytes(fd, 6, 5000);
		long n = T_CALL("child: recv", recv(fd, buf, sizeof buf, 0));
		t_data("child: data", buf, n);
		t_sockname("child: getsockname", fd);
		t_peername("child: getpeername", fd);
		T_CALL("child: close", close(fd));
		fflush(stdout);
		_exit(0);
	}
	close(sv[1]);
	int fd = ct_connect(P);
	ct_send_fd(sv[0], fd);
	T_CALL("parent: close its copy", close(fd));
	fflush(stdout);
	if (write(go[1], "g", 1) != 1)
		ct_die("write");
	int st = 0;
	waitpid(pid, &st, 0);
	t_log("child exited: %d", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	ct_peer_report(P);
	return 0;
}
