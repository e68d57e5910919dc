// CHECKS: _exit() with an open connection (no close, no atexit handlers):
// the kernel closes the process's sockets, the peer sees the data and EOF.
// PEER: tcp 21760 recvall
// NORMALISED: nothing.
#include "trace.h"
#include <sys/wait.h>

#define P 21760

int main(void)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		int fd = ct_connect(P);
		ct_send_all(fd, "last words", 10);
		_exit(0);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	t_log("child exited: %d", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	ct_peer_report(P);
	return 0;
}
