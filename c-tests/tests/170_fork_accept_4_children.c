// CHECKS: fork after listen: 4 children blocked in accept() on the inherited
// listener share 40 connections, each accepted exactly once (every child
// answers on its connection and reports one byte per accept to the parent).
// PEER: connect 21705 count:40 recvall
// NORMALISED: which child accepts which connection is not printed, only the
// total; the peer's report lists every connection's outcome.
#include "trace.h"
#include <sys/wait.h>

#define P 21700
#define N 40

int main(void)
{
	int lfd = ct_listen(P + 5, 64);
	int pfd[2];
	if (pipe(pfd) < 0)
		ct_die("pipe");
	pid_t kids[4];
	for (int k = 0; k < 4; k++) {
		kids[k] = fork();
		if (kids[k] == 0) {
			close(pfd[0]);
			for (;;) {
				int c = accept(lfd, NULL, NULL);
				if (c < 0) {
					if (errno == EINTR)
						continue;
					_exit(1);
				}
				ct_send_all(c, "ok", 2);
				close(c);
				if (write(pfd[1], "a", 1) != 1)
					_exit(2);
			}
		}
	}
	close(pfd[1]);
	fflush(stdout);
	ct_signal("listening");
	int total = 0;
	char b;
	while (total < N && read(pfd[0], &b, 1) == 1)
		total++;
	T_EQ("connections accepted by the children", total, N);
	for (int k = 0; k < 4; k++)
		kill(kids[k], SIGTERM);
	int killed = 0;
	for (int k = 0; k < 4; k++) {
		int st = 0;
		waitpid(kids[k], &st, 0);
		killed += WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM;
	}
	T_EQ("children ended by SIGTERM (still waiting in accept)", killed, 4);
	T_CALL("close listener", close(lfd));
	ct_peer_report(P + 5);
	return 0;
}
