// CHECKS: the select() form of non-blocking connect: writefds becomes set on
// success (SO_ERROR 0); to a closed port both readfds and writefds become
// set and SO_ERROR says ECONNREFUSED.
// PEER: tcp 21370 wait:done
// NORMALISED: nothing.
#include "trace.h"
#include <sys/select.h>

#define P 21370

static void attempt(const char *what, unsigned port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	struct sockaddr_in a = ct_addr(PEER_IP, port);
	t_log("%s:", what);
	T_CALL("  connect", connect(fd, (struct sockaddr *)&a, sizeof a));
	fd_set r, w;
	FD_ZERO(&r);
	FD_ZERO(&w);
	FD_SET(fd, &r);
	FD_SET(fd, &w);
	struct timeval tv = { 5, 0 };
	int n = select(fd + 1, &r, &w, NULL, &tv);
	t_log("  select = %d r%d w%d", n, FD_ISSET(fd, &r), FD_ISSET(fd, &w));
	t_log("  SO_ERROR = %s", t_errname(ct_getint(fd, SOL_SOCKET, SO_ERROR)));
	close(fd);
}

int main(void)
{
	attempt("to the listener", P);
	attempt("to a closed port", P + 5);
	ct_signal("done");
	return 0;
}
