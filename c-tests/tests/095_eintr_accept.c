// CHECKS: a blocking accept interrupted by SIGALRM (no SA_RESTART) fails
// with EINTR; with SO_RCVTIMEO set on the listener, accept fails with EAGAIN
// after at least the timeout.
// PEER: none
// NORMALISED: durations print only as ">= timeout: yes".
#include "trace.h"

static volatile sig_atomic_t hits;
static void on_alarm(int s) { (void)s; hits++; }

int main(void)
{
	ct_sigaction(SIGALRM, on_alarm, 0);
	int l = ct_listen(20950, 5);
	ct_alarm_ms(100);
	T_CALL("accept", accept(l, NULL, NULL));
	T_EQ("handler ran", hits, 1);
	struct timeval tv = { 0, 200000 };
	setsockopt(l, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	long long t0 = ct_now_us();
	T_CALL("accept with SO_RCVTIMEO 200 ms", accept(l, NULL, NULL));
	t_waited("accept", t0, 200);
	return 0;
}
