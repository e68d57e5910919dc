// CHECKS: with RLIMIT_NOFILE lowered to 16, socket() succeeds up to fd 15
// and then fails with EMFILE (as do accept and dup, with a connection
// queued); closing one makes room for exactly one more. (A shim that spends extra kernel fds per socket must
// still give the program the same count.)
// PEER: connect 20175 after:go wait:done
// NORMALISED: nothing.
#include "trace.h"
#include <sys/resource.h>

#define P 20175

int main(void)
{
	int l = ct_listen(P, 5);
	ct_signal("go");
	ct_wait_event(l, POLLIN, POLLIN, 5000);
	struct rlimit rl = { 16, 16 };
	T_CALL("setrlimit NOFILE 16", setrlimit(RLIMIT_NOFILE, &rl));
	int n = 0, last = -1;
	for (;;) {
		int fd = socket(AF_INET, n % 2 ? SOCK_DGRAM : SOCK_STREAM, 0);
		if (fd < 0)
			break;
		last = fd;
		n++;
	}
	t_log("sockets created %d, last fd %d, then %s", n, last, t_errname(errno));
	T_CALL("accept", accept(l, NULL, NULL));
	T_CALL("dup", dup(l));
	T_CALL("close(7)", close(7));
	T_CALL("accept", accept(l, NULL, NULL));
	T_CALL("socket", socket(AF_INET, SOCK_STREAM, 0));
	T_CALL("close(8)", close(8));
	ct_signal("done");
	return 0;
}
