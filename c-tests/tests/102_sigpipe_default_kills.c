// CHECKS: with SIGPIPE at its default action, writing to a reset connection
// kills the process by SIGPIPE (the runner prints "[killed by SIGPIPE]").
// PEER: tcp 21020 close
// NORMALISED: nothing.
#include "trace.h"

#define P 21020

int main(void)
{
	int fd = ct_connect(P);
	char c;
	T_CALL("recv (peer FIN)", recv(fd, &c, 1, 0));
	T_CALL("send", send(fd, "x", 1, 0));
	ct_wait_event(fd, POLLIN, POLLERR | POLLHUP, 5000);
	t_log("sending again: the process should die of SIGPIPE");
	send(fd, "x", 1, 0);
	t_log("still alive (wrong)");
	return 0;
}
