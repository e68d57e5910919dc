// CHECKS: with an SA_RESTART handler, a blocking accept is restarted after
// SIGALRM (100 ms) and returns the connection the peer makes at 300 ms.
// PEER: connect 20965 after:go wait:done
// NORMALISED: nothing.
#include "trace.h"
#include <pthread.h>

#define P 20965

static volatile sig_atomic_t hits;
static void on_alarm(int s) { (void)s; hits++; }

static void *go(void *arg)
{
	(void)arg;
	ct_sleep_ms(300);
	ct_signal("go");
	return NULL;
}

int main(void)
{
	ct_sigaction(SIGALRM, on_alarm, SA_RESTART);
	int l = ct_listen(P, 5);
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &s, NULL);
	pthread_t t;
	pthread_create(&t, NULL, go, NULL);
	pthread_sigmask(SIG_UNBLOCK, &s, NULL);
	ct_alarm_ms(100);
	T_CALL("accept", accept(l, NULL, NULL));
	T_EQ("handler ran", hits, 1);
	pthread_join(t, NULL);
	ct_signal("done");
	return 0;
}
