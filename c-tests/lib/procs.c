// procs.c — helpers for tests with more than one process (see trace.h):
// fork with the trace flushed, the parent's "go" byte to a waiting child,
// the child's exit status, this program exec'd again with a descriptor,
// and the read of a connection's data that such a child prints.
#include "trace.h"

#include <sys/wait.h>

pid_t ct_fork(void)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		ct_die("fork");
	return pid;
}

void ct_go_pipe(int go[2])
{
	if (pipe2(go, O_CLOEXEC) < 0)
		ct_die("pipe");
}

void ct_wait_go(int rd)
{
	char b;
	if (read(rd, &b, 1) != 1)
		_exit(1);
}

void ct_go(int wr)
{
	fflush(stdout);
	if (write(wr, "g", 1) != 1)
		ct_die("write");
}

void ct_wait_child(pid_t pid)
{
	int st = 0;
	waitpid(pid, &st, 0);
	t_log("child exited: %d", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

void ct_exec_self(const char *argv0, int fd)
{
	char num[16];
	snprintf(num, sizeof num, "%d", fd);
	execl("/proc/self/exe", argv0, "exec", num, (char *)NULL);
	_exit(127);
}

int ct_exec_arg(int argc, char **argv)
{
	return argc == 3 && !strcmp(argv[1], "exec") ? atoi(argv[2]) : -1;
}

long t_recv_shown(const char *who, int fd, int n)
{
	char buf[64], what[96];
	if (n > (int)sizeof buf)
		n = sizeof buf;
	ct_wait_bytes(fd, n, 3000);
	snprintf(what, sizeof what, "%s: recv", who);
	long m = T_CALL(what, recv(fd, buf, sizeof buf, 0));
	snprintf(what, sizeof what, "%s: data", who);
	t_data(what, buf, m > 0 ? m : 0);
	snprintf(what, sizeof what, "%s: getpeername", who);
	t_peername(what, fd);
	return m;
}

void t_echo(const char *who, int fd, const char *msg)
{
	char what[96];
	snprintf(what, sizeof what, "%s: send", who);
	T_CALL(what, send(fd, msg, strlen(msg), 0));
	t_recv_shown(who, fd, (int)strlen(msg));
}
