// CHECKS: a process killed by SIGKILL right after queueing 100 KB on a
// connection the peer has not read yet: its sockets are closed as by
// close(): the peer then reads all the data and EOF.
// PEER: tcp 21740 wait:killed recvall
// NORMALISED: nothing.
#include "trace.h"
#include <sys/wait.h>

#define P 21740
#define LEN 100000

int main(void)
{
	int ready[2];
	if (pipe(ready) < 0)
		ct_die("pipe");
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		int fd = ct_connect(P);
		static char buf[LEN];
		ct_pattern(buf, LEN, 0);
		ct_send_all(fd, buf, LEN);
		if (write(ready[1], "r", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	char b;
	if (read(ready[0], &b, 1) != 1)
		ct_die("child did not send");
	T_CALL("kill -9 the holder", kill(pid, SIGKILL));
	int st = 0;
	waitpid(pid, &st, 0);
	t_log("child: killed by %s", WIFSIGNALED(st) ? t_signame(WTERMSIG(st)) : "nothing");
	ct_signal("killed");
	ct_peer_report(P);
	return 0;
}
