// CHECKS: close() of a socket while another thread blocks in it does not
// end the blocked call, as Linux (the call holds the file): a read with
// SO_RCVTIMEO 1 s and a send into a full buffer with SO_SNDTIMEO 1 s both
// fail with EAGAIN after their timeout; close itself returns 0.
// PEER: tcp 22640 rcvbuf:32768 wait:done
// NORMALISED: durations print as ">= N ms: yes".
#include "trace.h"
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define P 22640

static int fd;
static long rc;
static int err;
static long long start;
static volatile int started_tid;

// The calling thread's id, noted just before its call, so the main thread
// can wait until that thread sleeps (a thread that had not yet made its
// call when the close came would rightly get EBADF: under load a fixed
// 250 ms was not always enough).
static void note_started(void)
{
	__atomic_store_n(&started_tid, (int)syscall(SYS_gettid), __ATOMIC_RELEASE);
}

// Waits (up to 10 s) until thread `tid` of this process sleeps.
static void wait_sleeping(int tid)
{
	char path[64], st[256];
	snprintf(path, sizeof path, "/proc/self/task/%d/stat", tid);
	for (int i = 0; i < 1000; i++) {
		FILE *f = fopen(path, "r");
		if (f) {
			size_t n = fread(st, 1, sizeof st - 1, f);
			fclose(f);
			st[n] = 0;
			char *p = strrchr(st, ')');
			if (p && p[1] == ' ' && p[2] == 'S')
				return;
		}
		ct_sleep_ms(10);
	}
}

static void *do_read(void *a)
{
	(void)a;
	char c;
	note_started();
	rc = read(fd, &c, 1);
	err = errno;
	return NULL;
}

static void *do_send(void *a)
{
	(void)a;
	static char buf[65536];
	note_started();
	rc = send(fd, buf, sizeof buf, MSG_NOSIGNAL);
	err = errno;
	return NULL;
}

static void run(const char *what, void *(*fn)(void *), int opt)
{
	struct timeval tv = { 1, 0 };
	if (setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof tv) < 0)
		ct_die("timeout");
	pthread_t t;
	started_tid = 0;
	start = ct_now_us();
	pthread_create(&t, NULL, fn, NULL);
	while (!__atomic_load_n(&started_tid, __ATOMIC_ACQUIRE))
		ct_sleep_ms(1);
	ct_sleep_ms(250);
	wait_sleeping(started_tid);
	T_CALL("close while blocked", close(fd));
	pthread_join(t, NULL);
	t_log("%s = %ld %s", what, rc, rc < 0 ? t_errname(err) : "");
	t_waited(what, start, 1000);
}

int main(void)
{
	fd = ct_connect(P);
	run("read", do_read, SO_RCVTIMEO);
	fd = ct_connect_small(P);
	ct_fill(fd);
	run("send", do_send, SO_SNDTIMEO);
	ct_signal("done");
	return 0;
}
