// kernel_side.h — a process on kernel sockets beside the program under test
// (issue 19: loopback shared with the kernel's stack). ks_start() re-runs
// this binary without LD_PRELOAD, so its sockets are the kernel's in both
// halves of a run; it does one job and reports on a pipe.
//
// Jobs (argv[1] == "ks"): "listen ADDR PORT REUSE" (bind, listen, report 0
// or the errno, then echo one connection at a time until killed), "bind
// ADDR PORT REUSE" (bind only, report, hold until killed; "ubind": UDP),
// "connect ADDR PORT" (connect, report 0 or the errno, send "kernel",
// report how many bytes the reply had, exit), "dconnect ADDR PORT MS"
// (report 0 at once, then connect after MS ms, as "connect"), "uconnect
// ADDR PORT" (as "connect" with a UDP socket: the reply waits 3 s at
// most, -1 without one). ADDR is
// IPv6 (an AF_INET6 socket) when it has a colon.
#ifndef CT_KERNEL_SIDE_H
#define CT_KERNEL_SIDE_H
#include "trace.h"
#include <sys/wait.h>

static int ks_report_fd = -1;

static inline void ks_report(int v)
{
	if (write(ks_report_fd, &v, sizeof v) != sizeof v)
		_exit(1);
}

// An address with a ':' is IPv6 (an AF_INET6 socket), else IPv4.
static inline int ks_sock(const char *addr, int port, int reuse, struct sockaddr_in6 *sa, int ty)
{
	int v6 = strchr(addr, ':') != NULL;
	int s = socket(v6 ? AF_INET6 : AF_INET, ty, 0);
	int one = 1;
	if (reuse)
		setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	memset(sa, 0, sizeof *sa);
	if (v6) {
		sa->sin6_family = AF_INET6;
		sa->sin6_port = htons(port);
		inet_pton(AF_INET6, addr, &sa->sin6_addr);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)sa;
		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		inet_pton(AF_INET, addr, &a->sin_addr);
	}
	return s;
}

static inline socklen_t ks_len(const struct sockaddr_in6 *sa)
{
	return sa->sin6_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

// Call first in main(): runs the job if this process is a kernel side.
static inline void ks_main(int argc, char **argv)
{
	if (argc < 5 || strcmp(argv[1], "ks"))
		return;
	ks_report_fd = 3;
	struct sockaddr_in6 sa;
	int reuse = argc > 5 ? atoi(argv[5]) : 0;
	int udp = !strcmp(argv[2], "ubind") || !strcmp(argv[2], "uconnect");
	if (!strcmp(argv[2], "uconnect"))
		argv[2] = "connect";
	int s = ks_sock(argv[3], atoi(argv[4]), reuse && strcmp(argv[2], "dconnect"), &sa,
			udp ? SOCK_DGRAM : SOCK_STREAM);
	if (udp) {
		// A UDP reply may never come: 3 s at most.
		struct timeval tv = { .tv_sec = 3 };
		setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	}
	if (!strcmp(argv[2], "dconnect")) {
		ks_report(0);
		usleep(reuse * 1000);
		argv[2] = "connect";
	}
	if (!strcmp(argv[2], "connect")) {
		int r = connect(s, (struct sockaddr *)&sa, ks_len(&sa));
		ks_report(r == 0 ? 0 : errno);
		if (r == 0) {
			char b[64];
			if (send(s, "kernel", 6, 0) != 6)
				_exit(1);
			long n = recv(s, b, sizeof b, 0);
			ks_report((int)n);
		}
		_exit(0);
	}
	if (bind(s, (struct sockaddr *)&sa, ks_len(&sa)) < 0) {
		ks_report(errno);
		_exit(0);
	}
	if (!strcmp(argv[2], "listen") && listen(s, 16) < 0) {
		ks_report(errno);
		_exit(0);
	}
	ks_report(0);
	if (strcmp(argv[2], "listen"))
		for (;;)
			pause();
	for (;;) {
		int c = accept(s, NULL, NULL);
		char b[64];
		long n;
		if (c < 0)
			continue;
		while ((n = recv(c, b, sizeof b, 0)) > 0)
			if (send(c, b, n, MSG_NOSIGNAL) != n)
				break;
		close(c);
	}
}

typedef struct {
	pid_t pid;
	int rfd; // reports come here
} ks_t;

// Start a kernel side; returns after its first report, stored in *first.
static inline ks_t ks_start(const char *job, const char *addr, int port, int reuse, int *first)
{
	int p[2];
	char ps[16], rs[8];
	ks_t k;
	if (pipe(p) < 0)
		ct_die("pipe");
	snprintf(ps, sizeof ps, "%d", port);
	snprintf(rs, sizeof rs, "%d", reuse);
	fflush(stdout);
	k.pid = fork();
	if (k.pid < 0)
		ct_die("fork");
	if (k.pid == 0) {
		dup2(p[1], 3);
		unsetenv("LD_PRELOAD");
		execl("/proc/self/exe", "ks", "ks", job, addr, ps, rs, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	k.rfd = p[0];
	if (read(k.rfd, first, sizeof *first) != sizeof *first)
		ct_die("kernel side %s %s:%d did not report", job, addr, port);
	return k;
}

// Next report of a kernel side (-1 if it exited without one).
static inline int ks_next(ks_t k)
{
	int v;
	return read(k.rfd, &v, sizeof v) == sizeof v ? v : -1;
}

// Accept one connection from a kernel side's "connect" job on listener l
// (the accept printed as `what`), print what it sent ("kernel") as
// "  got", answer "ok" (the job then reports 2) and close it.
static inline void ks_serve(const char *what, int l)
{
	int s = T_CALL(what, accept(l, NULL, NULL));
	char b[16];
	ct_wait_bytes(s, 6, 3000);
	long n = recv(s, b, sizeof b, 0);
	t_data("  got", b, n);
	send(s, "ok", 2, MSG_NOSIGNAL);
	close(s);
}

static inline void ks_stop(ks_t k)
{
	kill(k.pid, SIGKILL);
	waitpid(k.pid, NULL, 0);
	close(k.rfd);
}
#endif
