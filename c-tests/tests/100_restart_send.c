// CHECKS: a blocking send on a full connection with an SA_RESTART handler is
// not interrupted by SIGALRM: it completes with the full count once the peer
// starts reading (300 ms later); the peer gets everything.
// PEER: tcp 21000 rcvbuf:32768 wait:go recvall
// NORMALISED: nothing (how much ct_fill wrote is not printed).
#include "trace.h"
#include <pthread.h>

#define P 21000

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
	int fd = ct_connect_small(P);
	ct_fill(fd);
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &s, NULL);
	pthread_t t;
	pthread_create(&t, NULL, go, NULL);
	pthread_sigmask(SIG_UNBLOCK, &s, NULL);
	ct_alarm_ms(100);
	static char buf[100000];
	T_CALL("send 100000", send(fd, buf, sizeof buf, 0));
	T_EQ("handler ran", hits, 1);
	pthread_join(t, NULL);
	return 0;
}
