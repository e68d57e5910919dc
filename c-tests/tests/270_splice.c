// CHECKS: splice(2) between a pipe and a TCP or UDP socket, both ways, as
// Linux: the data moves, len 0 returns 0, unknown flags and socket-to-
// socket give EINVAL, offsets give ESPIPE/EINVAL, a pipe end used the
// wrong way gives EBADF; SPLICE_F_NONBLOCK and O_NONBLOCK give EAGAIN on
// an empty pipe, an empty socket and a full pipe; an empty pipe with no
// writer and a socket at end of file give 0; a blocking splice waits for
// socket data; 1 MiB moves through a pipe into a socket while the other
// end reads; an unconnected or shut down socket fails as Linux says;
// tee and vmsplice refuse a socket.
// PEER: none
// NORMALISED: the blocking wait is printed as ">= 100 ms" only.
#include "trace.h"
#include <pthread.h>

#define P 22700

static int c, s;

static void pair(int type, int *pc, int *ps)
{
	struct sockaddr_in a = ct_addr("127.0.0.1", P);
	if (type == SOCK_DGRAM) {
		*ps = ct_socket(SOCK_DGRAM);
		*pc = ct_socket(SOCK_DGRAM);
		struct sockaddr_in b = ct_addr("127.0.0.1", P + 5);
		if (bind(*ps, (struct sockaddr *)&a, sizeof a) < 0 ||
		    bind(*pc, (struct sockaddr *)&b, sizeof b) < 0 ||
		    connect(*pc, (struct sockaddr *)&a, sizeof a) < 0 ||
		    connect(*ps, (struct sockaddr *)&b, sizeof b) < 0)
			ct_die("udp pair");
		return;
	}
	int l = ct_socket(SOCK_STREAM);
	ct_setint(l, SOL_SOCKET, SO_REUSEADDR, 1);
	if (bind(l, (struct sockaddr *)&a, sizeof a) < 0 || listen(l, 4) < 0)
		ct_die("bind/listen");
	*pc = ct_socket(SOCK_STREAM);
	if (connect(*pc, (struct sockaddr *)&a, sizeof a) < 0)
		ct_die("connect");
	*ps = ct_accept(l);
	close(l);
}

static void pipe_write(int fd, const char *b, long n)
{
	while (n > 0) {
		long w = write(fd, b, n);
		if (w <= 0)
			ct_die("pipe write");
		b += w;
		n -= w;
	}
}

static void pipe_read(int fd, char *b, long n)
{
	while (n > 0) {
		long r = read(fd, b, n);
		if (r <= 0)
			ct_die("pipe read");
		b += r;
		n -= r;
	}
}

static void on_alarm(int sig)
{
	(void)sig;
}

// A call that may block: a 200 ms alarm (no SA_RESTART) ends the wait
// with EINTR.
#define MAYBLOCK(what, call)                \
	do {                                \
		ct_alarm_ms(200);           \
		T_CALL(what, call);         \
		ct_alarm_ms(0);             \
	} while (0)

static void mkpipe(int p[2])
{
	if (pipe(p) < 0)
		ct_die("pipe");
}

static void *late_write(void *arg)
{
	(void)arg;
	ct_sleep_ms(100);
	ct_send_all(c, "late", 4);
	return NULL;
}

#define BIG (1 << 20)
static char big[BIG], got[BIG];
static int big_pipe[2];

static void *splice_all(void *arg)
{
	(void)arg;
	long done = 0;
	while (done < BIG) {
		long n = splice(big_pipe[0], NULL, c, NULL, BIG - done, 0);
		if (n <= 0) {
			t_log("splice in thread: %ld %s", n, n < 0 ? t_errname(errno) : "");
			return NULL;
		}
		done += n;
	}
	return NULL;
}

static void tcp(void)
{
	int p[2];
	char buf[4096], out[4096];
	loff_t off = 0;
	t_log("== TCP: pipe to socket");
	pair(SOCK_STREAM, &c, &s);
	mkpipe(p);
	ct_pattern(buf, 2048, 0);
	pipe_write(p[1], buf, 2048);
	T_CALL("splice pipe -> socket", splice(p[0], NULL, c, NULL, 4096, 0));
	ct_recv_all(s, out, 2048);
	t_check("data", memcmp(buf, out, 2048) == 0);
	T_CALL("len 0", splice(p[0], NULL, c, NULL, 0, 0));
	T_CALL("flags 0x100", splice(p[0], NULL, c, NULL, 10, 0x100));
	T_CALL("offset in", splice(p[0], &off, c, NULL, 10, 0));
	T_CALL("offset out", splice(p[0], NULL, c, &off, 10, 0));
	T_CALL("empty pipe, SPLICE_F_NONBLOCK", splice(p[0], NULL, c, NULL, 10, SPLICE_F_NONBLOCK));
	ct_set_nonblock(p[0], 1);
	T_CALL("empty O_NONBLOCK pipe", splice(p[0], NULL, c, NULL, 10, 0));
	ct_set_nonblock(p[0], 0);
	T_CALL("write end as input", splice(p[1], NULL, c, NULL, 10, 0));
	T_CALL("socket to socket", splice(s, NULL, c, NULL, 10, 0));
	T_CALL("more", write(p[1], "abc", 3));
	T_CALL("splice SPLICE_F_MORE", splice(p[0], NULL, c, NULL, 10, SPLICE_F_MORE));
	T_CALL("recv", recv(s, out, sizeof out, 0));
	close(p[1]);
	T_CALL("empty pipe, no writer", splice(p[0], NULL, c, NULL, 10, 0));
	close(p[0]);

	t_log("== TCP: pipe to a full socket");
	ct_fill(c);
	ct_set_nonblock(c, 0);
	mkpipe(p);
	T_CALL("write pipe", write(p[1], "abc", 3));
	// Only the non-blocking case: a blocked write to a full socket is
	// woken by less free space under the shim than on Linux (a plain
	// write(2) shows it too), which is not splice's business.
	ct_set_nonblock(c, 1);
	MAYBLOCK("full socket, O_NONBLOCK socket", splice(p[0], NULL, c, NULL, 10, 0));
	ct_set_nonblock(c, 0);
	ct_set_nonblock(p[0], 1);
	ct_set_nonblock(c, 1);
	MAYBLOCK("full socket, both O_NONBLOCK", splice(p[0], NULL, c, NULL, 10, SPLICE_F_NONBLOCK));
	ct_set_nonblock(c, 0);
	ct_set_nonblock(p[0], 0);
	t_log("== tee and vmsplice take pipes only");
	struct iovec iov = { .iov_base = "abc", .iov_len = 3 };
	T_CALL("tee pipe -> socket", tee(p[0], c, 10, 0));
	T_CALL("tee socket -> pipe", tee(s, p[1], 10, 0));
	T_CALL("vmsplice socket", vmsplice(c, &iov, 1, 0));
	close(p[0]);
	close(p[1]);
	close(c);
	close(s);

	t_log("== TCP: socket to pipe");
	pair(SOCK_STREAM, &c, &s);
	mkpipe(p);
	MAYBLOCK("empty socket, SPLICE_F_NONBLOCK", splice(s, NULL, p[1], NULL, 10, SPLICE_F_NONBLOCK));
	ct_set_nonblock(p[1], 1);
	MAYBLOCK("empty socket, O_NONBLOCK pipe", splice(s, NULL, p[1], NULL, 10, 0));
	ct_set_nonblock(p[1], 0);
	ct_set_nonblock(s, 1);
	MAYBLOCK("empty socket, O_NONBLOCK socket", splice(s, NULL, p[1], NULL, 10, 0));
	ct_set_nonblock(s, 0);
	ct_send_all(c, buf, 2048);
	ct_wait_bytes(s, 2048, 2000);
	T_CALL("offset in", splice(s, &off, p[1], NULL, 10, 0));
	T_CALL("offset out", splice(s, NULL, p[1], &off, 10, 0));
	T_CALL("read end as output", splice(s, NULL, p[0], NULL, 10, 0));
	T_CALL("splice socket -> pipe, 100", splice(s, NULL, p[1], NULL, 100, 0));
	T_CALL("splice socket -> pipe, rest", splice(s, NULL, p[1], NULL, 4096, 0));
	memset(out, 0, sizeof out);
	T_CALL("read pipe", read(p[0], out, sizeof out));
	t_check("data", memcmp(buf, out, 2048) == 0);
	pthread_t th;
	long long t0 = ct_now_us();
	pthread_create(&th, NULL, late_write, NULL);
	T_CALL("blocking splice waits", splice(s, NULL, p[1], NULL, 4096, 0));
	t_waited("waited", t0, 100);
	pthread_join(th, NULL);
	T_CALL("read pipe", read(p[0], out, sizeof out));
	t_data("  got", out, 4);
	// A full pipe: one page of room, filled.
	T_CALL("F_SETPIPE_SZ", fcntl(p[1], F_SETPIPE_SZ, 4096));
	pipe_write(p[1], buf, 4096);
	ct_send_all(c, "xyz", 3);
	ct_wait_bytes(s, 3, 2000);
	MAYBLOCK("full pipe, SPLICE_F_NONBLOCK", splice(s, NULL, p[1], NULL, 10, SPLICE_F_NONBLOCK));
	ct_set_nonblock(p[1], 1);
	MAYBLOCK("full pipe, O_NONBLOCK pipe", splice(s, NULL, p[1], NULL, 10, 0));
	ct_set_nonblock(p[1], 0);
	ct_set_nonblock(s, 1);
	MAYBLOCK("full pipe, O_NONBLOCK socket", splice(s, NULL, p[1], NULL, 10, 0));
	ct_set_nonblock(s, 0);
	MAYBLOCK("full pipe, blocking", splice(s, NULL, p[1], NULL, 10, 0));
	pipe_read(p[0], out, 4096);
	T_CALL("room again", splice(s, NULL, p[1], NULL, 10, 0));
	T_CALL("read pipe", read(p[0], out, sizeof out));
	t_data("  got", out, 3);
	shutdown(c, SHUT_WR);
	T_CALL("end of file", splice(s, NULL, p[1], NULL, 10, 0));
	close(p[0]);
	close(p[1]);
	close(c);
	close(s);

	t_log("== TCP: 1 MiB through a pipe");
	pair(SOCK_STREAM, &c, &s);
	mkpipe(big_pipe);
	T_CALL("F_SETPIPE_SZ 1 MiB", fcntl(big_pipe[1], F_SETPIPE_SZ, BIG) >= BIG ? 0 : -1);
	ct_pattern(big, BIG, 0);
	pipe_write(big_pipe[1], big, BIG);
	pthread_create(&th, NULL, splice_all, NULL);
	ct_recv_all(s, got, BIG);
	pthread_join(th, NULL);
	t_check("1 MiB data", memcmp(big, got, BIG) == 0);
	close(big_pipe[0]);
	close(big_pipe[1]);

	t_log("== TCP: shut down and unconnected sockets");
	mkpipe(p);
	shutdown(c, SHUT_WR);
	T_CALL("write pipe", write(p[1], "abc", 3));
	T_CALL("pipe -> shut down socket", splice(p[0], NULL, c, NULL, 10, 0));
	close(c);
	close(s);
	int u = ct_socket(SOCK_STREAM);
	MAYBLOCK("pipe -> unconnected socket", splice(p[0], NULL, u, NULL, 10, 0));
	MAYBLOCK("unconnected socket -> pipe", splice(u, NULL, p[1], NULL, 10, 0));
	T_CALL("listen", listen(u, 1));
	MAYBLOCK("listener -> pipe", splice(u, NULL, p[1], NULL, 10, 0));
	close(u);
	close(p[0]);
	close(p[1]);
}

static void udp(void)
{
	int p[2];
	char out[64];
	t_log("== UDP");
	pair(SOCK_DGRAM, &c, &s);
	mkpipe(p);
	T_CALL("write pipe", write(p[1], "datagram", 8));
	T_CALL("splice pipe -> socket", splice(p[0], NULL, c, NULL, 64, 0));
	ct_wait_bytes(s, 8, 2000);
	T_CALL("splice socket -> pipe", splice(s, NULL, p[1], NULL, 64, 0));
	T_CALL("read pipe", read(p[0], out, sizeof out));
	t_data("  got", out, 8);
	MAYBLOCK("empty socket, SPLICE_F_NONBLOCK", splice(s, NULL, p[1], NULL, 64, SPLICE_F_NONBLOCK));
	ct_set_nonblock(s, 1);
	MAYBLOCK("empty socket, O_NONBLOCK socket", splice(s, NULL, p[1], NULL, 64, 0));
	ct_set_nonblock(s, 0);
	close(p[0]);
	close(p[1]);
	close(c);
	close(s);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	ct_sigaction(SIGALRM, on_alarm, 0);
	tcp();
	udp();
	return 0;
}
