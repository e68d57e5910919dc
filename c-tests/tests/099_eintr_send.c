// CHECKS: a blocking send on a full connection interrupted by SIGALRM (no
// SA_RESTART) fails with EINTR when nothing could be sent.
// PEER: tcp 20990 rcvbuf:32768 wait:done
// NORMALISED: nothing.
#include "trace.h"

#define P 20990

static volatile sig_atomic_t hits;
static void on_alarm(int s) { (void)s; hits++; }

int main(void)
{
	ct_sigaction(SIGALRM, on_alarm, 0);
	int fd = ct_connect_small(P);
	ct_fill(fd);
	ct_alarm_ms(100);
	T_CALL("send", send(fd, "x", 1, 0));
	T_EQ("handler ran", hits, 1);
	ct_signal("done");
	return 0;
}
