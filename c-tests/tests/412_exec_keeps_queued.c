// CHECKS: exec keeps a listener's queued connections: a connection that
// completes while the program sleeps in poll on its listener (without
// CLOEXEC) is still queued after the program execs itself, and the new
// image accepts it, open, with the peer's data. (In service mode the
// connection comes as a hand-off record on the listener's anchor, issue
// 10: it must not be lost with the old image.)
// PEER: connect 20412 after:go send:ping wait:done
// NORMALISED: nothing.
#include "trace.h"
#include <fcntl.h>

#define P 20412

int main(int argc, char **argv)
{
	if (argc > 2 && strcmp(argv[1], "after-exec") == 0) {
		int l = atoi(argv[2]);
		t_log("after exec: listener fd %d", l);
		int c = T_CALL("accept", accept(l, NULL, NULL));
		if (c >= 0) {
			t_revents("data", ct_wait_event(c, POLLIN, POLLIN, 5000));
			char buf[16];
			long r = T_CALL("recv", recv(c, buf, sizeof buf, MSG_DONTWAIT));
			t_data("  data", buf, r);
		}
		ct_set_nonblock(l, 1);
		T_CALL("accept empty", accept(l, NULL, NULL));
		ct_signal("done");
		return 0;
	}
	int l = ct_listen(P, 5);
	ct_signal("go");
	t_revents("poll until queued", ct_wait_event(l, POLLIN, POLLIN, 5000));
	ct_sleep_ms(100);
	char fdarg[16];
	snprintf(fdarg, sizeof fdarg, "%d", l);
	fflush(stdout);
	execl("/proc/self/exe", argv[0], "after-exec", fdarg, (char *)NULL);
	t_log("execl: %s", t_errname(errno));
	return 1;
}
