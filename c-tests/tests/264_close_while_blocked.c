// CHECKS: close() of a socket while another thread blocks in it does not
// end the blocked call, as Linux (the call holds the file): a read with
// SO_RCVTIMEO 1 s and a send into a full buffer with SO_SNDTIMEO 1 s both
// fail with EAGAIN after their timeout; close itself returns 0.
// PEER: tcp 22640 rcvbuf:32768 wait:done
// NORMALISED: durations print as ">= N ms: yes".
#include "trace.h"
#include <pthread.h>

#define P 22640

static int fd;
static long rc;
static int err;
static long long start;
static int started_tid;

static void *do_read(void *a)
{
	(void)a;
	char c;
	ct_note_thread(&started_tid);
	rc = read(fd, &c, 1);
	err = errno;
	return NULL;
}

static void *do_send(void *a)
{
	(void)a;
	static char buf[65536];
	ct_note_thread(&started_tid);
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
	ct_wait_blocked(&started_tid, 250);
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
