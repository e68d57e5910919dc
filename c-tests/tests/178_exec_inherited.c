// CHECKS: a connected socket inherited across fork + exec (no CLOEXEC), as
// inetd hands a connection to the server it execs: the new image sends on
// it, reads the echo and closes it; the parent had closed its copy.
// PEER: tcp 21780 echo
// NORMALISED: nothing.
#include "trace.h"

#define P 21780

int main(int argc, char **argv)
{
	int fd = ct_exec_arg(argc, argv);
	if (fd >= 0) {
		t_echo("exec'd", fd, "inherited");
		T_CALL("exec'd: close", close(fd));
		return 0;
	}
	fd = ct_connect(P);
	int go[2];
	ct_go_pipe(go);
	pid_t pid = ct_fork();
	if (pid == 0) {
		ct_wait_go(go[0]); // the parent closed its copy
		ct_exec_self(argv[0], fd);
	}
	T_CALL("parent: close its copy", close(fd));
	ct_go(go[1]);
	ct_wait_child(pid);
	ct_peer_report(P);
	return 0;
}
