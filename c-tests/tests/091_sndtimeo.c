// CHECKS: SO_SNDTIMEO: with the send path full (peer not reading), a
// blocking send fails with EAGAIN after at least the timeout; a non-blocking
// partial send of a large buffer returns less than asked, then EAGAIN.
// PEER: tcp 20910 rcvbuf:32768 wait:done
// NORMALISED: how much fits is not printed (buffer autotuning differs), only
// that it was more than 0.
#include "trace.h"

#define P 20910

int main(void)
{
	int fd = ct_connect_small(P);
	long filled = ct_fill(fd);
	t_log("filled > 0: %s", filled > 0 ? "yes" : "NO");
	struct timeval tv = { 0, 200000 };
	T_CALL("set SO_SNDTIMEO 200 ms", setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv));
	static char buf[1 << 20];
	long long t0 = ct_now_us();
	T_CALL("send 1000", send(fd, buf, 1000, 0));
	t_waited("send", t0, 200);
	T_CALL("send DONTWAIT", send(fd, buf, 1000, MSG_DONTWAIT));
	ct_signal("done");
	return 0;
}
