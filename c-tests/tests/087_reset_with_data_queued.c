// CHECKS: the peer sends data and then resets: the data already queued at A
// is kept; recv first returns it, then ECONNRESET, then 0.
// PEER: tcp 20870 send:before-reset signal:sent wait:go rst
// NORMALISED: nothing.
#include "trace.h"

#define P 20870

int main(void)
{
	int fd = ct_connect(P);
	ct_wait("sent", 5000);
	ct_wait_bytes(fd, 12, 5000);
	ct_signal("go");
	t_revents("poll until reset", ct_wait_event(fd, POLLIN, POLLERR, 5000));
	char buf[32];
	long n = T_CALL("recv", recv(fd, buf, sizeof buf, 0));
	if (n > 0)
		t_data("  data", buf, n);
	T_CALL("recv", recv(fd, buf, sizeof buf, 0));
	T_CALL("recv", recv(fd, buf, sizeof buf, 0));
	return 0;
}
