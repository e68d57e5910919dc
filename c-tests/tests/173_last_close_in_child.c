// CHECKS: connect, fork; the parent closes its copy first (nothing on the
// wire), then the child sends and closes: the child's close is the last
// one and sends the FIN after the data.
// PEER: tcp 21730 recvall
// NORMALISED: nothing.
#include "trace.h"
#include <sys/wait.h>

#define P 21730

int main(void)
{
	int fd = ct_connect(P);
	int go[2];
	if (pipe(go) < 0)
		ct_die("pipe");
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		char b;
		if (read(go[0], &b, 1) != 1)
			_exit(1);
		ct_sleep_ms(100);
		T_CALL("child: send after the parent's close", send(fd, "from child", 10, 0));
		T_CALL("child: close (the last)", close(fd));
		fflush(stdout);
		_exit(0);
	}
	T_CALL("parent: close", close(fd));
	fflush(stdout);
	if (write(go[1], "g", 1) != 1)
		ct_die("write");
	int st = 0;
	waitpid(pid, &st, 0);
	t_log("child exited: %d", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	ct_peer_report(P);
	return 0;
}
