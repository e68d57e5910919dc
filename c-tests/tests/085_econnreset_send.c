// CHECKS: after the peer's reset, the first send reports ECONNRESET
// without SIGPIPE; the next send is EPIPE with SIGPIPE; poll bits after the
// reset.
// PEER: tcp 20850 wait:connected rst
// The peer resets only once A's connect has returned (wait:connected):
// a reset that arrives first fails the connect itself, on Linux too.
// NORMALISED: nothing.
#include "trace.h"

#define P 20850

static volatile sig_atomic_t pipes;
static void on_pipe(int s) { (void)s; pipes++; }

int main(void)
{
	ct_sigaction(SIGPIPE, on_pipe, 0);
	int fd = ct_connect(P);
	ct_signal("connected");
	t_revents("poll until reset", ct_wait_event(fd, POLLIN | POLLOUT | POLLRDHUP, POLLERR, 5000));
	T_CALL("send", send(fd, "x", 1, 0));
	T_EQ("SIGPIPE count", pipes, 0);
	T_CALL("send", send(fd, "x", 1, 0));
	T_EQ("SIGPIPE count", pipes, 1);
	return 0;
}
