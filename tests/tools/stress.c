/* tests/tools/stress.c — the two halves of the stress test (tests/stress.sh,
 * scripts/stress), run under the shim or on kernel sockets.
 *
 *   stress server ADDR PORT WORKERS FORK_PCT
 *     A pre-forking echo server: WORKERS processes accept on one listener
 *     (forked from the parent, which re-forks any worker that dies). Each
 *     connection is served by the worker itself, or by a child it forks for
 *     it (FORK_PCT percent of them). Serving = echo until EOF, then close.
 *     Prints "listening PID" once the workers run.
 *
 *   stress client ADDR PORT CONNS SEED
 *     CONNS connections one after the other, each in one of four ways
 *     (chosen by SEED): a full echo with a half-close (send N bytes,
 *     shutdown(SHUT_WR), read all N back, then EOF); an early close after
 *     sending; an abortive close (SO_LINGER 0: RST) mid-stream; reading
 *     half the echo and closing. Prints one line at the end:
 *       ok=A early=B reset=C half=D cut=E bad=F
 *     cut: a full echo that ended early with ECONNRESET/EPIPE/EOF (its
 *     server was killed: allowed); bad: bytes that differ from those sent,
 *     more bytes than sent, a connect that failed, or a 10 s stall (never
 *     allowed). Exit status 0 unless bad > 0.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static struct sockaddr_in addr_of(const char *ip, const char *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(atoi(port)) };
	if (inet_pton(AF_INET, ip, &a.sin_addr) != 1) {
		fprintf(stderr, "stress: bad address %s\n", ip);
		exit(2);
	}
	return a;
}

static void echo(int c)
{
	char buf[16384];
	for (;;) {
		ssize_t n = read(c, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(c, buf + off, n - off);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				goto out;
			off += w;
		}
	}
out:
	close(c);
}

static void worker(int l, int fork_pct, unsigned seed)
{
	signal(SIGCHLD, SIG_IGN); /* handler children reap themselves */
	for (;;) {
		int c = accept(l, NULL, NULL);
		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE)
				continue;
			perror("stress: accept");
			_exit(1);
		}
		if ((int)(rand_r(&seed) % 100) < fork_pct) {
			pid_t p = fork();
			if (p == 0) {
				close(l);
				echo(c);
				_exit(0);
			}
			close(c); /* the child serves it (or, if fork failed, nobody) */
		} else {
			echo(c);
		}
	}
}

static int server(char **av)
{
	struct sockaddr_in a = addr_of(av[0], av[1]);
	int workers = atoi(av[2]), fork_pct = atoi(av[3]), one = 1;
	int l = socket(AF_INET, SOCK_STREAM, 0);
	if (l < 0 || setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
	    bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 128)) {
		perror("stress: listener");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	for (int i = 0; i < workers; i++)
		if (fork() == 0)
			worker(l, fork_pct, 1000 + i);
	printf("listening %d\n", (int)getpid());
	fflush(stdout);
	for (unsigned gen = 0;; gen++) {
		int st;
		pid_t p = wait(&st);
		if (p < 0) {
			if (errno == EINTR)
				continue;
			sleep(1);
			continue;
		}
		/* A worker died (killed by the test): another takes its place. */
		if (fork() == 0)
			worker(l, fork_pct, 2000 + gen);
	}
}

/* Read exactly what was sent back (or less, if cut); 1 on a mismatch. */
static int read_back(int s, const unsigned char *sent, size_t want, size_t *got, int *err)
{
	unsigned char buf[16384];
	*got = 0;
	*err = 0;
	for (;;) {
		ssize_t n = read(s, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*err = errno;
			return 0;
		}
		if (n == 0)
			return 0;
		if (*got + n > want || memcmp(buf, sent + *got, n) != 0)
			return 1;
		*got += n;
	}
}

static int write_all(int s, const unsigned char *p, size_t n)
{
	for (size_t off = 0; off < n;) {
		ssize_t w = write(s, p + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		off += w;
	}
	return 0;
}

static int client(char **av)
{
	struct sockaddr_in a = addr_of(av[0], av[1]);
	int conns = atoi(av[2]);
	unsigned seed = (unsigned)atoi(av[3]);
	static unsigned char data[65536];
	long ok = 0, early = 0, reset = 0, half = 0, cut = 0, bad = 0;
	signal(SIGPIPE, SIG_IGN);
	for (int i = 0; i < conns; i++) {
		int s = socket(AF_INET, SOCK_STREAM, 0);
		struct timeval tv = { .tv_sec = 10 };
		setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
		if (connect(s, (struct sockaddr *)&a, sizeof a) != 0) {
			fprintf(stderr, "stress client: connect: %s\n", strerror(errno));
			bad++;
			close(s);
			continue;
		}
		size_t n = 1 + rand_r(&seed) % sizeof data;
		for (size_t k = 0; k < n; k++)
			data[k] = (unsigned char)rand_r(&seed);
		int how = rand_r(&seed) % 10, err;
		size_t got;
		if (how < 6) { /* full echo with a half-close */
			if (write_all(s, data, n) == 0)
				shutdown(s, SHUT_WR);
			if (read_back(s, data, n, &got, &err)) {
				fprintf(stderr, "stress client: echo differs from what was sent\n");
				bad++;
			} else if (got == n) {
				ok++;
			} else if (err == EAGAIN) {
				fprintf(stderr, "stress client: stalled 10 s after %zu of %zu bytes\n", got, n);
				bad++;
			} else {
				cut++;
			}
		} else if (how < 8) { /* early close after sending */
			write_all(s, data, n);
			early++;
		} else if (how < 9) { /* abortive close mid-stream */
			struct linger lg = { 1, 0 };
			write_all(s, data, n / 2 + 1);
			setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
			reset++;
		} else { /* read some of the echo, then close */
			unsigned char buf[4096];
			write_all(s, data, n);
			ssize_t r = read(s, buf, sizeof buf);
			if (r > 0 && memcmp(buf, data, r) != 0) {
				fprintf(stderr, "stress client: echo differs from what was sent\n");
				bad++;
			}
			half++;
		}
		close(s);
	}
	printf("ok=%ld early=%ld reset=%ld half=%ld cut=%ld bad=%ld\n", ok, early, reset, half, cut, bad);
	return bad > 0;
}

int main(int ac, char **av)
{
	if (ac == 6 && strcmp(av[1], "server") == 0)
		return server(av + 2);
	if (ac == 6 && strcmp(av[1], "client") == 0)
		return client(av + 2);
	fprintf(stderr, "usage: stress server ADDR PORT WORKERS FORK_PCT | client ADDR PORT CONNS SEED\n");
	return 2;
}
