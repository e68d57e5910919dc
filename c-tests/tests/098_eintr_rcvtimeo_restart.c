// CHECKS: a recv blocked with SO_RCVTIMEO set is interrupted with EINTR even
// under SA_RESTART (Linux does not restart socket calls with a timeout).
// PEER: tcp 20980 wait:done
// NORMALISED: nothing.
#include "trace.h"

#define P 20980

static volatile sig_atomic_t hits;
static void on_alarm(int s) { (void)s; hits++; }

int main(void)
{
	ct_sigaction(SIGALRM, on_alarm, SA_RESTART);
	int fd = ct_connect(P);
	struct timeval tv = { 5, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	char c;
	ct_alarm_ms(100);
	T_CALL("recv", recv(fd, &c, 1, 0));
	T_EQ("handler ran", hits, 1);
	ct_signal("done");
	return 0;
}
