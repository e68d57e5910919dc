// CHECKS: a non-blocking accept takes a descriptor number before it looks
// at the queue (Linux's get_unused_fd_flags): with every number below
// RLIMIT_NOFILE in use, accept and accept4 on an empty queue are EMFILE,
// not EAGAIN; with one number free, EAGAIN, and the number stays free (the
// next open gets it); a queued connection is EMFILE while no number is
// free, stays queued, and is accepted once one is. (The shim answers an
// empty queue without making an anchor, issue 18.)
// PEER: connect 20330 after:go wait:done
// NORMALISED: nothing.
#include "trace.h"
#include <fcntl.h>
#include <sys/resource.h>

#define P 20330

int main(void)
{
	int l = ct_listen(P, 5);
	ct_set_nonblock(l, 1);
	T_CALL("accept empty", accept(l, NULL, NULL));
	struct rlimit rl = { 16, 16 };
	T_CALL("setrlimit NOFILE 16", setrlimit(RLIMIT_NOFILE, &rl));
	int n = 0, last = -1;
	for (;;) {
		int fd = open("/dev/null", O_RDONLY);
		if (fd < 0)
			break;
		last = fd;
		n++;
	}
	t_log("files opened %d, last fd %d, then %s", n, last, t_errname(errno));
	T_CALL("accept empty, no number free", accept(l, NULL, NULL));
	T_CALL("accept4 empty, no number free", accept4(l, NULL, NULL, SOCK_NONBLOCK));
	T_CALL("close(last)", close(last));
	T_CALL("accept empty, one number free", accept(l, NULL, NULL));
	T_CALL("open takes the free number", open("/dev/null", O_RDONLY));
	T_CALL("close(last)", close(last));
	ct_signal("go");
	t_revents("poll until queued", ct_wait_event(l, POLLIN, POLLIN, 5000));
	T_CALL("open takes the free number", open("/dev/null", O_RDONLY));
	T_CALL("accept queued, no number free", accept(l, NULL, NULL));
	struct pollfd p = { .fd = l, .events = POLLIN };
	T_CALL("poll: still queued", poll(&p, 1, 0));
	t_revents("  revents", p.revents);
	T_CALL("close(last)", close(last));
	T_CALL("accept queued, one number free", accept(l, NULL, NULL));
	T_CALL("accept empty, no number free", accept(l, NULL, NULL));
	T_CALL("close(last)", close(last));
	T_CALL("accept empty, one number free", accept(l, NULL, NULL));
	ct_signal("done");
	return 0;
}
