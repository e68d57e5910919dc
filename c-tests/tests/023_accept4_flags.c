// CHECKS: accept4 flags SOCK_NONBLOCK / SOCK_CLOEXEC show on the new fd;
// plain accept on a non-blocking listener gives a blocking socket (O_NONBLOCK
// is not inherited); flags of the listener are unchanged.
// PEER: connect 20235 count:3 signal:connected wait:done
// NORMALISED: nothing.
#include "trace.h"

#define P 20235

static void show(const char *what, int fd)
{
	int fl = fcntl(fd, F_GETFL), fdf = fcntl(fd, F_GETFD);
	t_log("%s: fd %d O_NONBLOCK=%d FD_CLOEXEC=%d", what, fd, !!(fl & O_NONBLOCK),
	      !!(fdf & FD_CLOEXEC));
}

int main(void)
{
	int l = ct_listen(P, 5);
	ct_signal("listening");
	ct_wait("connected", 10000);
	show("accept4(0)", T_CALL("accept4 0", accept4(l, NULL, NULL, 0)));
	show("accept4(NONBLOCK)", T_CALL("accept4 NONBLOCK", accept4(l, NULL, NULL, SOCK_NONBLOCK)));
	ct_set_nonblock(l, 1);
	ct_wait_event(l, POLLIN, POLLIN, 5000);
	show("accept4(CLOEXEC) on nonblocking listener",
	     T_CALL("accept4 CLOEXEC", accept4(l, NULL, NULL, SOCK_CLOEXEC)));
	show("listener", l);
	T_CALL("accept4 NONBLOCK|CLOEXEC, queue empty",
	       accept4(l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC));
	ct_signal("done");
	return 0;
}
