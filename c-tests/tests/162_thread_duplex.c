// CHECKS: one thread sends 4 MiB while another receives the echo on the same
// socket concurrently (blocking calls on both sides); data intact.
// PEER: tcp 21620 echo
// NORMALISED: nothing.
#include "trace.h"
#include <pthread.h>

#define P 21620
#define TOTAL (4L << 20)

static int fd;

static void *sender(void *arg)
{
	(void)arg;
	static char buf[30000];
	for (long off = 0; off < TOTAL;) {
		long k = TOTAL - off < (long)sizeof buf ? TOTAL - off : (long)sizeof buf;
		ct_pattern(buf, k, off);
		ct_send_all(fd, buf, k);
		off += k;
	}
	shutdown(fd, SHUT_WR);
	return NULL;
}

int main(void)
{
	fd = ct_connect(P);
	pthread_t t;
	pthread_create(&t, NULL, sender, NULL);
	static char buf[50000], want[50000];
	long got = 0;
	int bad = 0;
	for (;;) {
		ssize_t r = recv(fd, buf, sizeof buf, 0);
		if (r <= 0)
			break;
		ct_pattern(want, r, got);
		bad |= memcmp(buf, want, r) != 0;
		got += r;
	}
	pthread_join(t, NULL);
	t_log("received %ld", got);
	t_check("data intact", !bad);
	return 0;
}
