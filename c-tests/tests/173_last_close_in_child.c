// CHECKS: connect, fork; the parent closes its copy first (nothing on the
// wire), then the child sends and closes: the child's close is the last
// one and sends the FIN after the data.
// PEER: tcp 21730 recvall
// NORMALISED: nothing.
#include "trace.h"

#define P 21730

int main(void)
{
	int fd = ct_connect(P);
	int go[2];
	ct_go_pipe(go);
	pid_t pid = ct_fork();
	if (pid == 0) {
		ct_wait_go(go[0]);
		ct_sleep_ms(100);
		T_CALL("child: send after the parent's close", send(fd, "from child", 10, 0));
		T_CALL("child: close (the last)", close(fd));
		fflush(stdout);
		_exit(0);
	}
	T_CALL("parent: close", close(fd));
	ct_go(go[1]);
	ct_wait_child(pid);
	ct_peer_report(P);
	return 0;
}
