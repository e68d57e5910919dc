// CHECKS: a connected socket passed to another process with SCM_RIGHTS
// works there: the sender closes its copy, the receiver sends, reads the
// echo and closes (the last close: the peer sees EOF).
// PEER: tcp 21720 echo
// NORMALISED: nothing.
#include "trace.h"

#define P 21720

int main(void)
{
	int sv[2], go[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		ct_die("socketpair");
	ct_go_pipe(go);
	pid_t pid = ct_fork();
	if (pid == 0) {
		close(sv[0]);
		int fd = ct_recv_fd(sv[1]);
		ct_wait_go(go[0]); // the parent closed its copy
		t_echo("child", fd, "passed");
		t_sockname("child: getsockname", fd);
		T_CALL("child: close", close(fd));
		fflush(stdout);
		_exit(0);
	}
	close(sv[1]);
	int fd = ct_connect(P);
	ct_send_fd(sv[0], fd);
	T_CALL("parent: close its copy", close(fd));
	ct_go(go[1]);
	ct_wait_child(pid);
	ct_peer_report(P);
	return 0;
}
