// CHECKS: with an SA_RESTART handler, a blocking recv is restarted after
// SIGALRM (100 ms) and returns the data the peer sends later (300 ms).
// PEER: tcp 20940 wait:go send:late wait:done
// NORMALISED: nothing.
#include "trace.h"
#include <pthread.h>

#define P 20940

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
	int fd = ct_connect(P);
	pthread_t t;
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &s, NULL); // the helper thread never takes SIGALRM
	pthread_create(&t, NULL, go, NULL);
	pthread_sigmask(SIG_UNBLOCK, &s, NULL);
	ct_alarm_ms(100);
	char buf[8];
	long n = T_CALL("recv", recv(fd, buf, sizeof buf, 0));
	t_data("  data", buf, n);
	T_EQ("handler ran", hits, 1);
	pthread_join(t, NULL);
	ct_signal("done");
	return 0;
}
