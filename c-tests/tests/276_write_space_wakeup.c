// CHECKS: a blocking write to a full TCP socket stays blocked until a
// third of the send queue is free (Linux's sk_stream_write_space wakes a
// writer only when sk_stream_is_writeable): with nothing read by the
// receiver, or only a little while it waits, it is still blocked after
// 400 ms and ends with EINTR at the alarm, having copied nothing; POLLOUT
// is not set either. Once the receiver drains, the same write completes. Over
// loopback (both ends ours under the shim) and over the device to a
// kernel peer that reads only when told.
// PEER: tcp 22760 rcvbuf:32768 wait:drain recvall
// NORMALISED: byte counts of the fill are not printed (buffer sizes);
// the small read (1024 bytes, 100 ms into the write) is far below a third
// of any queue here.
#include "trace.h"
#include <pthread.h>

#define P 22760
#define W 65536

static char wbuf[W];

static void on_alarm(int sig)
{
	(void)sig;
}

static void blocked_write(const char *what, int fd)
{
	long long t0 = ct_now_us();
	ct_alarm_ms(400);
	T_CALL(what, write(fd, wbuf, sizeof wbuf));
	ct_alarm_ms(0);
	t_waited("  waited", t0, 350);
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	T_CALL("  poll POLLOUT", poll(&p, 1, 0));
	t_revents("  revents", p.revents);
}

static void *drain(void *arg)
{
	int fd = *(int *)arg;
	static char rbuf[65536];
	ct_sleep_ms(200);
	for (;;) {
		long r = read(fd, rbuf, sizeof rbuf);
		if (r <= 0)
			break;
	}
	return NULL;
}

static void *read_small(void *arg)
{
	static char small[1024];
	ct_sleep_ms(100);
	ct_recv_all(*(int *)arg, small, sizeof small);
	return NULL;
}

static void loopback(void)
{
	t_log("== loopback");
	struct sockaddr_in a = ct_addr("127.0.0.1", P + 5);
	int l = ct_socket(SOCK_STREAM);
	ct_setint(l, SOL_SOCKET, SO_REUSEADDR, 1);
	ct_setint(l, SOL_SOCKET, SO_RCVBUF, 16384);
	if (bind(l, (struct sockaddr *)&a, sizeof a) < 0 || listen(l, 4) < 0)
		ct_die("bind/listen");
	int c = ct_socket(SOCK_STREAM);
	ct_setint(c, SOL_SOCKET, SO_SNDBUF, 16384);
	if (connect(c, (struct sockaddr *)&a, sizeof a) < 0)
		ct_die("connect");
	int s = ct_accept(l);
	close(l);

	ct_fill(c);
	ct_set_nonblock(c, 0);
	pthread_t th;
	pthread_create(&th, NULL, read_small, &s);
	blocked_write("write to a full socket, the receiver reads 1024 bytes", c);
	pthread_join(th, NULL);

	pthread_create(&th, NULL, drain, &s);
	T_CALL("write while the receiver drains", write(c, wbuf, sizeof wbuf));
	shutdown(c, SHUT_WR);
	pthread_join(th, NULL);
	close(c);
	close(s);
}

static void device(void)
{
	t_log("== device");
	int c = ct_connect_small(P);
	ct_fill(c);
	ct_set_nonblock(c, 0);
	blocked_write("write to a full socket", c);
	ct_signal("drain");
	T_CALL("write while the peer drains", write(c, wbuf, sizeof wbuf));
	close(c);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	ct_sigaction(SIGALRM, on_alarm, 0);
	loopback();
	device();
	return 0;
}
