// CHECKS: a thread blocked in poll (infinite timeout) on a socket is woken
// when data arrives, and a thread blocked in poll on a listener is woken by
// an incoming connection.
// PEER: tcp 21630 wait:go send:wake wait:done
// PEER: connect 21635 after:go2 wait:done
// NORMALISED: nothing.
#include "trace.h"
#include <pthread.h>

#define P 21630

static int fd;
static int revents;

static void *poller(void *arg)
{
	(void)arg;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	poll(&p, 1, -1);
	revents = p.revents;
	return NULL;
}

int main(void)
{
	fd = ct_connect(P);
	pthread_t t;
	pthread_create(&t, NULL, poller, NULL);
	ct_sleep_ms(100);
	ct_signal("go");
	pthread_join(t, NULL);
	t_revents("poll on connection", revents);
	fd = ct_listen(P + 5, 5);
	pthread_create(&t, NULL, poller, NULL);
	ct_sleep_ms(100);
	ct_signal("go2");
	pthread_join(t, NULL);
	t_revents("poll on listener", revents);
	ct_signal("done");
	return 0;
}
