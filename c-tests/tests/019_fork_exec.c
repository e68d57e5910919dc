// CHECKS: fork + exec with open sockets: the child execs a shell that checks
// which inherited descriptors exist (a plain socket is inherited, a
// SOCK_CLOEXEC one is not); the parent's connection works before and after.
// PEER: tcp 20190 echo
// NORMALISED: nothing.
#include "trace.h"
#include <sys/wait.h>

#define P 20190

int main(void)
{
	int fd = ct_connect(P);
	int cx = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	t_log("fds: connection %d, cloexec socket %d", fd, cx);
	T_CALL("send a", send(fd, "a", 1, 0));
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		char cmd[200];
		snprintf(cmd, sizeof cmd,
			 "if [ -e /proc/$$/fd/%d ]; then echo child: fd %d inherited; else echo child: fd %d missing; fi;"
			 "if [ -e /proc/$$/fd/%d ]; then echo child: fd %d inherited; else echo child: fd %d missing; fi",
			 fd, fd, fd, cx, cx, cx);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	t_log("child exited: %s status %d", WIFEXITED(st) ? "normally" : "abnormally", WEXITSTATUS(st));
	T_CALL("send b", send(fd, "b", 1, 0));
	char buf[4];
	ct_wait_bytes(fd, 2, 5000);
	long n = T_CALL("recv", recv(fd, buf, sizeof buf, 0));
	t_data("  data", buf, n);
	T_CALL("close", close(fd));
	ct_peer_report(P);
	return 0;
}
