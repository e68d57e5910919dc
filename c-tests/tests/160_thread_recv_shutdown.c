// CHECKS: a thread blocked in recv is woken by shutdown(SHUT_RD) or
// SHUT_RDWR from another thread: recv returns 0.
// PEER: tcp 21600 wait:done
// NORMALISED: nothing. (The main thread waits 200 ms so the reader is
// blocked before it shuts down; if it were not yet blocked, recv would
// still return 0.)
#include "trace.h"
#include <pthread.h>

#define P 21600

static int fd;
static long result;
static int err;

static void *reader(void *arg)
{
	(void)arg;
	char c;
	result = recv(fd, &c, 1, 0);
	err = errno;
	return NULL;
}

int main(void)
{
	for (int i = 0; i < 2; i++) {
		fd = ct_connect(P);
		pthread_t t;
		pthread_create(&t, NULL, reader, NULL);
		ct_sleep_ms(200);
		int how = i ? SHUT_RDWR : SHUT_RD;
		T_CALL(i ? "shutdown RDWR" : "shutdown RD", shutdown(fd, how));
		pthread_join(t, NULL);
		t_ret("  blocked recv", result, err);
	}
	ct_signal("done");
	return 0;
}
