// CHECKS: select on a connection: writable when idle; readable once data
// arrives; readable at EOF (recv then returns 0); exceptfds stays empty.
// PEER: tcp 21360 wait:a send:hi wait:b close
// NORMALISED: nothing.
#include "trace.h"
#include <sys/select.h>

#define P 21360

static void sel(const char *what, int fd, int timeout_ms)
{
	fd_set r, w, x;
	FD_ZERO(&r);
	FD_ZERO(&w);
	FD_ZERO(&x);
	FD_SET(fd, &r);
	FD_SET(fd, &w);
	FD_SET(fd, &x);
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	int n = select(fd + 1, &r, timeout_ms ? NULL : &w, &x, &tv);
	t_log("%s: select %d r%d w%d x%d", what, n, FD_ISSET(fd, &r), timeout_ms ? -1 : FD_ISSET(fd, &w),
	      FD_ISSET(fd, &x));
}

int main(void)
{
	int fd = ct_connect(P);
	sel("idle", fd, 0);
	ct_signal("a");
	sel("wait for data", fd, 5000);
	char buf[8];
	recv(fd, buf, sizeof buf, 0);
	sel("after reading", fd, 0);
	ct_signal("b");
	sel("wait for EOF", fd, 5000);
	T_CALL("recv", recv(fd, buf, sizeof buf, 0));
	return 0;
}
