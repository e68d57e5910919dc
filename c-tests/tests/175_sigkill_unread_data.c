// CHECKS: a process killed by SIGKILL while data it never read is queued
// on its connection: the close of a socket with unread data sends a RST,
// as Linux's close() would.
// PEER: tcp 21750 send:unread signal:sent wait:killed recvall
// NORMALISED: nothing.
#include "trace.h"
#include <sys/wait.h>

#define P 21750

int main(void)
{
	int ready[2];
	if (pipe(ready) < 0)
		ct_die("pipe");
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		int fd = ct_connect(P);
		ct_wait("sent", 15000);
		ct_wait_bytes(fd, 6, 15000);
		if (write(ready[1], "r", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	char b;
	if (read(ready[0], &b, 1) != 1)
		ct_die("child did not connect");
	T_CALL("kill -9 the holder", kill(pid, SIGKILL));
	int st = 0;
	waitpid(pid, &st, 0);
	t_log("child: killed by %s", WIFSIGNALED(st) ? t_signame(WTERMSIG(st)) : "nothing");
	ct_signal("killed");
	ct_peer_report(P);
	return 0;
}
