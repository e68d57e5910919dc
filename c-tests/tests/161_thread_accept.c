// CHECKS: a thread blocked in accept returns the connection the peer makes
// while it waits; a second thread blocked in accept on the same listener is
// woken by shutdown(SHUT_RD) of the listener with EINVAL.
// PEER: connect 21615 after:go send:x wait:done
// NORMALISED: nothing.
#include "trace.h"
#include <pthread.h>

#define P 21615

static int l;
static long result;
static int err;

static void *acceptor(void *arg)
{
	(void)arg;
	result = accept(l, NULL, NULL);
	err = errno;
	return NULL;
}

int main(void)
{
	l = ct_listen(P, 5);
	pthread_t t;
	pthread_create(&t, NULL, acceptor, NULL);
	ct_sleep_ms(100);
	ct_signal("go");
	pthread_join(t, NULL);
	t_ret("thread accept", result, err);
	pthread_create(&t, NULL, acceptor, NULL);
	ct_sleep_ms(200);
	T_CALL("shutdown RD listener", shutdown(l, SHUT_RD));
	pthread_join(t, NULL);
	t_ret("thread accept", result, err);
	ct_signal("done");
	return 0;
}
