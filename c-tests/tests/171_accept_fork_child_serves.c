// CHECKS: accept, fork, the child serves the connection while the parent
// closes its copy at once: the parent's close sends nothing (the
// connection stays up), the child's last close sends the FIN.
// PEER: connect 21715 send:hello recvall
// NORMALISED: nothing.
#include "trace.h"
#include <sys/wait.h>

#define P 21710

int main(void)
{
	int lfd = ct_listen(P + 5, 4);
	ct_signal("listening");
	int c = ct_accept(lfd);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		close(lfd);
		ct_sleep_ms(100); // the parent's close comes first
		char buf[16];
		ct_recv_all(c, buf, 5);
		ct_send_all(c, "world", 5);
		close(c);
		_exit(0);
	}
	T_CALL("parent closes its copy", close(c));
	int st = 0;
	waitpid(pid, &st, 0);
	t_log("child exited: %d", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	T_CALL("close listener", close(lfd));
	ct_peer_report(P + 5);
	return 0;
}
