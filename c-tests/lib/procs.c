// procs.c — helpers for tests with more than one process (see trace.h):
// fork with the trace flushed, the parent's "go" byte to a waiting child,
// the child's exit status, this program exec'd again with a descriptor,
// and the read of a connection's data that such a child prints; a
// thread's blocking call waited for.
#include "trace.h"

#include <sys/syscall.h>
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

void ct_note_thread(int *slot)
{
	__atomic_store_n(slot, (int)syscall(SYS_gettid), __ATOMIC_RELEASE);
}

void ct_wait_blocked(int *slot, int settle_ms)
{
	int tid;
	while (!(tid = __atomic_load_n(slot, __ATOMIC_ACQUIRE)))
		ct_sleep_ms(1);
	ct_sleep_ms(settle_ms);
	char path[64], st[256];
	snprintf(path, sizeof path, "/proc/self/task/%d/stat", tid);
	for (int i = 0; i < 1000; i++) {
		FILE *f = fopen(path, "r");
		if (f) {
			size_t n = fread(st, 1, sizeof st - 1, f);
			fclose(f);
			st[n] = 0;
			char *p = strrchr(st, ')');
			if (p && p[1] == ' ' && p[2] == 'S')
				return;
		}
		ct_sleep_ms(10);
	}
}
