// CHECKS: two threads blocked in accept on one listener; the peer makes two
// connections; each thread gets exactly one of them.
// PEER: connect 21645 after:go count:2 wait:done
// NORMALISED: which thread gets which connection is not printed.
#include "trace.h"
#include <pthread.h>

#define P 21645

static int l;
static int got[2];

static void *acceptor(void *arg)
{
	int i = (int)(long)arg;
	got[i] = accept(l, NULL, NULL);
	return NULL;
}

int main(void)
{
	l = ct_listen(P, 5);
	pthread_t t[2];
	for (long i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, acceptor, (void *)i);
	ct_sleep_ms(100);
	ct_signal("go");
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	t_log("both threads accepted: %s", got[0] >= 0 && got[1] >= 0 ? "yes" : "NO");
	t_log("different sockets: %s", got[0] != got[1] ? "yes" : "NO");
	t_log("fds are 4 and 5: %s", got[0] + got[1] == 9 ? "yes" : "NO");
	ct_signal("done");
	return 0;
}
