// CHECKS: TCP urgent data as Linux has it, both ways between this program
// and a process on kernel sockets (in the shim half the segments cross the
// TUN device: our URG flag and pointer read by Linux, Linux's by us):
// send(MSG_OOB) makes its last byte urgent; the receiver sees POLLPRI and
// select()'s exceptfds, SIOCATMARK, a read that stops at the mark,
// recv(MSG_OOB) (msg_flags MSG_OOB, MSG_PEEK keeps it, a second read is
// EINVAL), the stream read around the urgent byte; FIONREAD counts up to
// the mark (0 there) until the reader passes it, every byte inline; with SO_OOBINLINE the
// byte stays in the stream and MSG_OOB is EINVAL; a lone urgent byte at
// the read point does not make the socket readable; splice() from the
// socket stops at the mark and, with the urgent byte there (read or not),
// moves nothing: EAGAIN on a non-blocking socket (0 on a blocking one:
// packetdrill's splice/tcp_splice_loop_test); MSG_OOB on UDP is
// EOPNOTSUPP.
// PEER: none
// NORMALISED: nothing (every wait is for an event or a byte count, 3 s at
// most).
#include "trace.h"
#include <stdarg.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/wait.h>
#include <fcntl.h>

#define P 22580

static int rep = -1; // kernel child: report pipe

static void kc_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void kc_log(const char *fmt, ...)
{
	char b[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(b, sizeof b - 1, fmt, ap);
	va_end(ap);
	b[n++] = '\n';
	if (write(rep, b, n) != n)
		_exit(1);
}

// An int-valued ioctl (SIOCATMARK, FIONREAD): its value, or -errno.
static int ioctl_int(int fd, unsigned long req)
{
	int v = -1;
	if (ioctl(fd, req, &v) < 0)
		return -errno;
	return v;
}

static long long atmark(int fd)
{
	return ioctl_int(fd, SIOCATMARK);
}

static long long inq(int fd)
{
	return ioctl_int(fd, FIONREAD);
}

// Data bytes arrived on the connection so far, the urgent byte included:
// tcp_info's tcpi_bytes_received (offset 128, Linux 4.1; glibc's struct
// tcp_info ends before it). FIONREAD cannot tell: Linux's tcp_inq counts
// only up to the urgent mark.
static long long rcvd(int fd)
{
	unsigned char b[256] = { 0 };
	socklen_t l = sizeof b;
	unsigned long long v = 0;
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, b, &l) == 0 && l >= 136)
		memcpy(&v, b + 128, sizeof v);
	return (long long)v;
}

// Wait until count(fd) reaches n (3 s at most).
static void wait_for(int fd, long long (*count)(int), long long n)
{
	for (int i = 0; i < 300 && count(fd) < n; i++)
		usleep(10000);
}

static const char *rd(int fd, int flags, char *out)
{
	char b[64];
	long n = recv(fd, b, sizeof b, flags | MSG_DONTWAIT);
	if (n < 0)
		snprintf(out, 80, "-1 %s", t_errname(errno));
	else
		snprintf(out, 80, "%ld \"%.*s\"", n, (int)n, b);
	return out;
}

// The kernel side: connect to SELF_IP:P, then receive (job "recv") or send
// (job "send") urgent data, reporting what it sees.
static void kchild(const char *job)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = ct_addr(SELF_IP, P);
	if (connect(s, (struct sockaddr *)&a, sizeof a) < 0) {
		kc_log("connect: %s", t_errname(errno));
		_exit(0);
	}
	char o[80];
	if (!strcmp(job, "recv")) {
		struct pollfd p = { .fd = s, .events = POLLPRI };
		poll(&p, 1, 3000);
		kc_log("poll POLLPRI: %s", t_pollstr(p.revents));
		wait_for(s, rcvd, 12);
		kc_log("SIOCATMARK %lld", atmark(s));
		kc_log("read %s", rd(s, 0, o));
		kc_log("SIOCATMARK %lld", atmark(s));
		kc_log("recv MSG_OOB %s", rd(s, MSG_OOB, o));
		kc_log("read %s", rd(s, 0, o));
		kc_log("SIOCATMARK %lld", atmark(s));
	} else {
		send(s, "hello", 5, 0);
		send(s, "xyz", 3, MSG_OOB);
		usleep(50000);
		send(s, "tail", 4, 0);
		char c;
		recv(s, &c, 1, 0); // until the program is done
	}
	close(s);
	_exit(0);
}

static pid_t kc_start(const char *job, int *rfd)
{
	int p[2];
	if (pipe(p) < 0)
		ct_die("pipe");
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(p[1], 3);
		unsetenv("LD_PRELOAD");
		execl("/proc/self/exe", "kc", "kc", job, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	*rfd = p[0];
	return pid;
}

static void kc_finish(pid_t pid, int rfd)
{
	waitpid(pid, NULL, 0);
	char b[4096];
	long n, got = 0;
	while ((n = read(rfd, b + got, sizeof b - 1 - got)) > 0)
		got += n;
	b[got] = 0;
	for (char *line = strtok(b, "\n"); line; line = strtok(NULL, "\n"))
		t_log("  kernel side: %s", line);
	close(rfd);
}

static void revents(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN | POLLPRI };
	poll(&p, 1, 0);
	t_revents("  poll IN|PRI", p.revents);
	fd_set r, x;
	FD_ZERO(&r);
	FD_ZERO(&x);
	FD_SET(fd, &r);
	FD_SET(fd, &x);
	struct timeval tv = { 0, 0 };
	select(fd + 1, &r, NULL, &x, &tv);
	t_log("  select: read %d except %d", FD_ISSET(fd, &r) != 0, FD_ISSET(fd, &x) != 0);
}

// splice(fd -> pipe p, 64 bytes), and what the pipe got.
static void splice_out(int fd, int p[2])
{
	long n = splice(fd, NULL, p[1], NULL, 64, SPLICE_F_NONBLOCK);
	t_ret("splice", n, errno);
	char b[64];
	if (n > 0 && read(p[0], b, n) == n)
		t_data("  pipe", b, n);
}

static void wait_pri(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLPRI };
	if (poll(&p, 1, 3000) != 1)
		t_log("  no POLLPRI");
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "kc")) {
		rep = 3;
		kchild(argv[2]);
	}
	int l = ct_listen(P, 4);
	int rfd;
	char o[80];

	t_log("== this program sends, the kernel side receives");
	pid_t pid = kc_start("recv", &rfd);
	int s = ct_accept(l);
	T_CALL("send hello", send(s, "hello", 5, 0));
	T_CALL("send xyz MSG_OOB", send(s, "xyz", 3, MSG_OOB));
	T_CALL("send tail", send(s, "tail", 4, 0));
	kc_finish(pid, rfd);
	close(s);

	t_log("== the kernel side sends, this program receives");
	pid = kc_start("send", &rfd);
	s = ct_accept(l);
	wait_pri(s);
	wait_for(s, rcvd, 12);
	t_log("SIOCATMARK %lld", atmark(s));
	t_log("FIONREAD %lld (up to the mark)", inq(s));
	revents(s);
	t_log("read %s", rd(s, 0, o));
	t_log("SIOCATMARK %lld", atmark(s));
	t_log("FIONREAD %lld (at the mark)", inq(s));
	revents(s);
	t_log("recv MSG_OOB|MSG_PEEK %s", rd(s, MSG_OOB | MSG_PEEK, o));
	char b[8];
	struct iovec iov = { .iov_base = b, .iov_len = sizeof b };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	long n = T_CALL("recvmsg MSG_OOB", recvmsg(s, &m, MSG_OOB));
	t_data("  data", b, n);
	t_log("  msg_flags MSG_OOB %d", (m.msg_flags & MSG_OOB) != 0);
	t_log("recv MSG_OOB again %s", rd(s, MSG_OOB, o));
	t_log("SIOCATMARK %lld", atmark(s));
	t_log("FIONREAD %lld (at the mark, urgent byte read)", inq(s));
	revents(s);
	t_log("read %s", rd(s, 0, o));
	t_log("SIOCATMARK %lld", atmark(s));
	t_log("FIONREAD %lld", inq(s));
	send(s, "k", 1, 0);
	kc_finish(pid, rfd);
	close(s);

	t_log("== SO_OOBINLINE");
	pid = kc_start("send", &rfd);
	s = ct_accept(l);
	ct_setint(s, SOL_SOCKET, SO_OOBINLINE, 1);
	wait_pri(s);
	wait_for(s, rcvd, 12);
	t_log("FIONREAD %lld (inline: every byte)", inq(s));
	t_log("read %s", rd(s, 0, o));
	t_log("SIOCATMARK %lld", atmark(s));
	t_log("recv MSG_OOB %s", rd(s, MSG_OOB, o));
	t_log("read %s", rd(s, 0, o));
	send(s, "k", 1, 0);
	kc_finish(pid, rfd);
	close(s);

	t_log("== splice() at the urgent mark");
	int pp[2];
	if (pipe(pp) < 0)
		ct_die("pipe");
	pid = kc_start("send", &rfd);
	s = ct_accept(l);
	fcntl(s, F_SETFL, O_NONBLOCK); // (SPLICE_F_NONBLOCK is the pipe's)
	wait_pri(s);
	wait_for(s, rcvd, 12);
	splice_out(s, pp);
	t_log("SIOCATMARK %lld", atmark(s));
	splice_out(s, pp);
	t_log("recv MSG_OOB %s", rd(s, MSG_OOB, o));
	splice_out(s, pp);
	t_log("read %s", rd(s, 0, o));
	splice_out(s, pp);
	send(s, "k", 1, 0);
	kc_finish(pid, rfd);
	close(s);
	close(pp[0]);
	close(pp[1]);

	t_log("== a lone urgent byte, within this program");
	int c = ct_socket(SOCK_STREAM);
	struct sockaddr_in a = ct_addr(SELF_IP, P);
	if (connect(c, (struct sockaddr *)&a, sizeof a) < 0)
		ct_die("connect");
	s = ct_accept(l);
	T_CALL("send ab", send(c, "ab", 2, 0));
	wait_for(s, inq, 2);
	t_log("read %s", rd(s, 0, o));
	T_CALL("send ! MSG_OOB", send(c, "!", 1, MSG_OOB));
	wait_pri(s);
	t_log("SIOCATMARK %lld", atmark(s));
	revents(s);
	t_log("recv MSG_OOB %s", rd(s, MSG_OOB, o));
	revents(s);
	t_log("read %s", rd(s, 0, o));
	t_log("SIOCATMARK %lld", atmark(s));
	T_CALL("send more", send(c, "more", 4, 0));
	wait_for(s, inq, 4);
	t_log("read %s", rd(s, 0, o));
	close(c);
	close(s);

	int u = ct_udp(0);
	struct sockaddr_in ua = ct_addr(SELF_IP, P + 5);
	T_CALL("udp sendto MSG_OOB", sendto(u, "x", 1, MSG_OOB, (struct sockaddr *)&ua, sizeof ua));
	t_log("udp recv MSG_OOB %s", rd(u, MSG_OOB, o));
	t_log("udp SIOCATMARK %lld", atmark(u));
	t_log("listener SIOCATMARK %lld", atmark(l));
	t_log("listener recv MSG_OOB %s", rd(l, MSG_OOB, o));
	return 0;
}
