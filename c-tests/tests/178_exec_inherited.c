// CHECKS: a connected socket inherited across fork + exec (no CLOEXEC), as
// inetd hands a connection to the server it execs: the new image sends on
// it, reads the echo and closes it; the parent had closed its copy.
// PEER: tcp 21780 echo
// NORMALISED: nothing.
#include "trace.h"
#include <sys/wait.h>

#define P 21780

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "exec")) {
		int fd = atoi(argv[2]);
		T_CALL("exec'd: send", send(fd, "inherited", 9, 0));
		char buf[16];
		ct_wait_bytes(fd, 9, 5000);
		long n = T_CALL("exec'd: recv", recv(fd, buf, sizeof buf, 0));
		t_data("exec'd: data", buf, n);
		t_peername("exec'd: getpeername", fd);
		T_CALL("exec'd: close", close(fd));
		return 0;
	}
	int fd = ct_connect(P);
	int go[2];
	if (pipe2(go, O_CLOEXEC) < 0)
		ct_die("pipe");
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		char b, num[16];
		if (read(go[0], &b, 1) != 1) // the parent closed its copy
			_exit(1);
		snprintf(num, sizeof num, "%d", fd);
		execl("/proc/self/exe", argv[0], "exec", num, (char *)NULL);
		_exit(127);
	}
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
