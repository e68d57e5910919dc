// CHECKS: a connection that completes while no descriptor number is free
// stays queued (Linux's accept takes the number before it dequeues): a
// blocking poll on the listener wakes with POLLIN while every number below
// RLIMIT_NOFILE is in use, accept is EMFILE and the connection is still
// queued (poll says so again), and once a number is free accept returns
// it, open, with the peer's data. (In service mode the connection comes
// as a hand-off record on the listener's anchor, issue 10: a poll that
// reads the record back while no number is free must not lose it.)
// PEER: connect 20410 after:go send:ping wait:done
// NORMALISED: nothing.
#include "trace.h"
#include <fcntl.h>
#include <sys/resource.h>

#define P 20410

int main(void)
{
	int l = ct_listen(P, 5);
	ct_set_nonblock(l, 1);
	struct rlimit rl = { 16, 16 };
	T_CALL("setrlimit NOFILE 16", setrlimit(RLIMIT_NOFILE, &rl));
	// The peer connects once it sees "go" (a file: made while a number
	// is free); every number is taken before it can.
	ct_signal("go");
	int n = 0, last = -1;
	for (;;) {
		int fd = open("/dev/null", O_RDONLY);
		if (fd < 0)
			break;
		last = fd;
		n++;
	}
	t_log("files opened %d, last fd %d, then %s", n, last, t_errname(errno));
	// Sleeps in poll until the connection completes, no number free.
	t_revents("poll until queued, no number free", ct_wait_event(l, POLLIN, POLLIN, 5000));
	ct_sleep_ms(100);
	T_CALL("accept queued, no number free", accept(l, NULL, NULL));
	struct pollfd p = { .fd = l, .events = POLLIN };
	T_CALL("poll: still queued", poll(&p, 1, 0));
	t_revents("  revents", p.revents);
	T_CALL("accept4 queued, no number free", accept4(l, NULL, NULL, SOCK_CLOEXEC));
	T_CALL("close(last)", close(last));
	int c = T_CALL("accept queued, one number free", accept(l, NULL, NULL));
	if (c >= 0) {
		t_revents("data", ct_wait_event(c, POLLIN, POLLIN, 5000));
		char buf[16];
		long r = T_CALL("recv", recv(c, buf, sizeof buf, MSG_DONTWAIT));
		t_data("  data", buf, r);
	}
	T_CALL("accept empty, no number free", accept(l, NULL, NULL));
	T_CALL("close(last - 1)", close(last - 1));
	ct_signal("done");
	return 0;
}
