// trace.c — implementation of the shared trace/setup helpers (see trace.h).
#include "trace.h"

#include <net/if.h>
#include <stdarg.h>


static unsigned port_lo = 32768, port_hi = 60999;

__attribute__((constructor)) static void t_init(void)
{
	// Line-buffered so a crash or timeout still leaves the trace so far.
	setvbuf(stdout, NULL, _IOLBF, 0);
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
	if (f) {
		unsigned lo, hi;
		if (fscanf(f, "%u %u", &lo, &hi) == 2) {
			port_lo = lo;
			port_hi = hi;
		}
		fclose(f);
	}
}

const char *t_errname(int e)
{
	switch (e) {
	case 0: return "0";
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case ESRCH: return "ESRCH";
	case EINTR: return "EINTR";
	case EIO: return "EIO";
	case ENXIO: return "ENXIO";
	case E2BIG: return "E2BIG";
	case ENOEXEC: return "ENOEXEC";
	case EBADF: return "EBADF";
	case ECHILD: return "ECHILD";
	case EAGAIN: return "EAGAIN";
	case ENOMEM: return "ENOMEM";
	case EACCES: return "EACCES";
	case EFAULT: return "EFAULT";
	case ENOTBLK: return "ENOTBLK";
	case EBUSY: return "EBUSY";
	case EEXIST: return "EEXIST";
	case EXDEV: return "EXDEV";
	case ENODEV: return "ENODEV";
	case ENOTDIR: return "ENOTDIR";
	case EISDIR: return "EISDIR";
	case EINVAL: return "EINVAL";
	case ENFILE: return "ENFILE";
	case EMFILE: return "EMFILE";
	case ENOTTY: return "ENOTTY";
	case ETXTBSY: return "ETXTBSY";
	case EFBIG: return "EFBIG";
	case ENOSPC: return "ENOSPC";
	case ESPIPE: return "ESPIPE";
	case EROFS: return "EROFS";
	case EMLINK: return "EMLINK";
	case EPIPE: return "EPIPE";
	case EDOM: return "EDOM";
	case ERANGE: return "ERANGE";
	case EDEADLK: return "EDEADLK";
	case ENAMETOOLONG: return "ENAMETOOLONG";
	case ENOLCK: return "ENOLCK";
	case ENOSYS: return "ENOSYS";
	case ENOTEMPTY: return "ENOTEMPTY";
	case ELOOP: return "ELOOP";
	case ENOMSG: return "ENOMSG";
	case EIDRM: return "EIDRM";
	case ECHRNG: return "ECHRNG";
	case EL2NSYNC: return "EL2NSYNC";
	case EL3HLT: return "EL3HLT";
	case EL3RST: return "EL3RST";
	case ELNRNG: return "ELNRNG";
	case EUNATCH: return "EUNATCH";
	case ENOCSI: return "ENOCSI";
	case EL2HLT: return "EL2HLT";
	case EBADE: return "EBADE";
	case EBADR: return "EBADR";
	case EXFULL: return "EXFULL";
	case ENOANO: return "ENOANO";
	case EBADRQC: return "EBADRQC";
	case EBADSLT: return "EBADSLT";
	case EBFONT: return "EBFONT";
	case ENOSTR: return "ENOSTR";
	case ENODATA: return "ENODATA";
	case ETIME: return "ETIME";
	case ENOSR: return "ENOSR";
	case ENONET: return "ENONET";
	case ENOPKG: return "ENOPKG";
	case EREMOTE: return "EREMOTE";
	case ENOLINK: return "ENOLINK";
	case EADV: return "EADV";
	case ESRMNT: return "ESRMNT";
	case ECOMM: return "ECOMM";
	case EPROTO: return "EPROTO";
	case EMULTIHOP: return "EMULTIHOP";
	case EDOTDOT: return "EDOTDOT";
	case EBADMSG: return "EBADMSG";
	case EOVERFLOW: return "EOVERFLOW";
	case ENOTUNIQ: return "ENOTUNIQ";
	case EBADFD: return "EBADFD";
	case EREMCHG: return "EREMCHG";
	case ELIBACC: return "ELIBACC";
	case ELIBBAD: return "ELIBBAD";
	case ELIBSCN: return "ELIBSCN";
	case ELIBMAX: return "ELIBMAX";
	case ELIBEXEC: return "ELIBEXEC";
	case EILSEQ: return "EILSEQ";
	case ERESTART: return "ERESTART";
	case ESTRPIPE: return "ESTRPIPE";
	case EUSERS: return "EUSERS";
	case ENOTSOCK: return "ENOTSOCK";
	case EDESTADDRREQ: return "EDESTADDRREQ";
	case EMSGSIZE: return "EMSGSIZE";
	case EPROTOTYPE: return "EPROTOTYPE";
	case ENOPROTOOPT: return "ENOPROTOOPT";
	case EPROTONOSUPPORT: return "EPROTONOSUPPORT";
	case ESOCKTNOSUPPORT: return "ESOCKTNOSUPPORT";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case EPFNOSUPPORT: return "EPFNOSUPPORT";
	case EAFNOSUPPORT: return "EAFNOSUPPORT";
	case EADDRINUSE: return "EADDRINUSE";
	case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
	case ENETDOWN: return "ENETDOWN";
	case ENETUNREACH: return "ENETUNREACH";
	case ENETRESET: return "ENETRESET";
	case ECONNABORTED: return "ECONNABORTED";
	case ECONNRESET: return "ECONNRESET";
	case ENOBUFS: return "ENOBUFS";
	case EISCONN: return "EISCONN";
	case ENOTCONN: return "ENOTCONN";
	case ESHUTDOWN: return "ESHUTDOWN";
	case ETOOMANYREFS: return "ETOOMANYREFS";
	case ETIMEDOUT: return "ETIMEDOUT";
	case ECONNREFUSED: return "ECONNREFUSED";
	case EHOSTDOWN: return "EHOSTDOWN";
	case EHOSTUNREACH: return "EHOSTUNREACH";
	case EALREADY: return "EALREADY";
	case EINPROGRESS: return "EINPROGRESS";
	case ESTALE: return "ESTALE";
	case EUCLEAN: return "EUCLEAN";
	case ENOTNAM: return "ENOTNAM";
	case ENAVAIL: return "ENAVAIL";
	case EISNAM: return "EISNAM";
	case EREMOTEIO: return "EREMOTEIO";
	case EDQUOT: return "EDQUOT";
	case ENOMEDIUM: return "ENOMEDIUM";
	case EMEDIUMTYPE: return "EMEDIUMTYPE";
	case ECANCELED: return "ECANCELED";
	case ENOKEY: return "ENOKEY";
	case EKEYEXPIRED: return "EKEYEXPIRED";
	case EKEYREVOKED: return "EKEYREVOKED";
	case EKEYREJECTED: return "EKEYREJECTED";
	case EOWNERDEAD: return "EOWNERDEAD";
	case ENOTRECOVERABLE: return "ENOTRECOVERABLE";
	case ERFKILL: return "ERFKILL";
	case EHWPOISON: return "EHWPOISON";
	}
	static __thread char buf[32];
	snprintf(buf, sizeof buf, "E#%d", e);
	return buf;
}

long t_ret(const char *what, long rc, int err)
{
	if (rc < 0)
		printf("%s = %ld %s\n", what, rc, t_errname(err));
	else
		printf("%s = %ld\n", what, rc);
	errno = err;
	return rc;
}

void t_eq(const char *what, long got, long want)
{
	if (got == want)
		printf("%s = %ld\n", what, got);
	else
		printf("%s = %ld  <-- want %ld\n", what, got, want);
}

void t_log(const char *fmt, ...)
{
	int e = errno;
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	errno = e;
}

void t_check(const char *what, int ok)
{
	printf("%s: %s\n", what, ok ? "yes" : "NO");
}

const char *t_pollstr(int r)
{
	static __thread char buf[8][160];
	static __thread int slot;
	char *b = buf[slot++ % 8];
	static const struct { int bit; const char *name; } names[] = {
		{ POLLIN, "POLLIN" },       { POLLPRI, "POLLPRI" },
		{ POLLOUT, "POLLOUT" },     { POLLERR, "POLLERR" },
		{ POLLHUP, "POLLHUP" },     { POLLNVAL, "POLLNVAL" },
		{ POLLRDNORM, "POLLRDNORM" }, { POLLRDBAND, "POLLRDBAND" },
		{ POLLWRNORM, "POLLWRNORM" }, { POLLWRBAND, "POLLWRBAND" },
		{ POLLRDHUP, "POLLRDHUP" },
	};
	b[0] = 0;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (r & names[i].bit) {
			if (b[0])
				strcat(b, "|");
			strcat(b, names[i].name);
			r &= ~names[i].bit;
		}
	}
	if (r)
		sprintf(b + strlen(b), "%s0x%x", b[0] ? "|" : "", r);
	if (!b[0])
		strcpy(b, "0");
	return b;
}

void t_revents(const char *what, int revents)
{
	printf("%s = %s\n", what, t_pollstr(revents));
}

int t_is_ephemeral(unsigned port)
{
	return port >= port_lo && port <= port_hi;
}

const char *t_portstr(unsigned port)
{
	static __thread char buf[8][16];
	static __thread int slot;
	if (t_is_ephemeral(port))
		return "EPHEMERAL";
	char *b = buf[slot++ % 8];
	snprintf(b, 16, "%u", port);
	return b;
}

const char *t_addrstr(const struct sockaddr *sa, socklen_t len)
{
	static __thread char buf[8][96];
	static __thread int slot;
	char *b = buf[slot++ % 8];
	const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
	if (len < sizeof(sa_family_t)) {
		snprintf(b, 96, "(len %u)", (unsigned)len);
	} else if (sa->sa_family == AF_INET && len >= sizeof *in) {
		char ip[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
		snprintf(b, 96, "%s:%s", ip, t_portstr(ntohs(in->sin_port)));
	} else if (sa->sa_family == AF_INET6 && len >= 24) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		char ip[INET6_ADDRSTRLEN];
		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
		int n = snprintf(b, 96, "[%s]:%s", ip, t_portstr(ntohs(in6->sin6_port)));
		if (in6->sin6_flowinfo && n < 96)
			n += snprintf(b + n, 96 - n, " flow %u", ntohl(in6->sin6_flowinfo));
		if (len >= sizeof *in6 && in6->sin6_scope_id && n < 96)
			snprintf(b + n, 96 - n, " scope %u", in6->sin6_scope_id);
	} else {
		snprintf(b, 96, "(family %d len %u)", sa->sa_family, (unsigned)len);
	}
	return b;
}

static void name_of(const char *what, int fd, int peer)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof ss);
	socklen_t len = sizeof ss;
	errno = 0;
	int rc = peer ? getpeername(fd, (struct sockaddr *)&ss, &len)
		      : getsockname(fd, (struct sockaddr *)&ss, &len);
	if (rc < 0)
		printf("%s = -1 %s\n", what, t_errname(errno));
	else
		printf("%s = %d %s len %u\n", what, rc,
		       t_addrstr((struct sockaddr *)&ss, len), (unsigned)len);
}

void t_sockname(const char *what, int fd) { name_of(what, fd, 0); }
void t_peername(const char *what, int fd) { name_of(what, fd, 1); }

void t_data(const char *what, const void *buf, long n)
{
	const unsigned char *p = buf;
	int printable = n <= 64;
	for (long i = 0; printable && i < n; i++)
		if (p[i] < 0x20 || p[i] > 0x7e)
			printable = 0;
	if (printable)
		printf("%s = \"%.*s\"\n", what, (int)n, (const char *)buf);
	else
		printf("%s = %ld bytes sum %08x\n", what, n, ct_sum(CT_SUM_INIT, buf, n));
}

const char *t_signame(int sig)
{
	static __thread char buf[16];
	switch (sig) {
	case SIGPIPE: return "SIGPIPE";
	case SIGALRM: return "SIGALRM";
	case SIGUSR1: return "SIGUSR1";
	case SIGUSR2: return "SIGUSR2";
	case SIGURG: return "SIGURG";
	case SIGIO: return "SIGIO";
	}
	snprintf(buf, sizeof buf, "SIG#%d", sig);
	return buf;
}

// ---- setup helpers --------------------------------------------------------

void ct_die(const char *fmt, ...)
{
	int e = errno;
	va_list ap;
	printf("SETUP FAILED: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf(" (errno %s)\n", t_errname(e));
	fflush(stdout);
	exit(3);
}

struct sockaddr_in ct_addr(const char *ip, unsigned port)
{
	struct sockaddr_in a;
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_port = htons(port);
	if (inet_pton(AF_INET, ip, &a.sin_addr) != 1)
		ct_die("bad address %s", ip);
	return a;
}

struct sockaddr_in6 ct_addr6(const char *ip, unsigned port)
{
	struct sockaddr_in6 a;
	memset(&a, 0, sizeof a);
	a.sin6_family = AF_INET6;
	a.sin6_port = htons(port);
	if (inet_pton(AF_INET6, ip, &a.sin6_addr) != 1)
		ct_die("bad address %s", ip);
	return a;
}

int ct_socket(int type)
{
	int fd = socket(AF_INET, type, 0);
	if (fd < 0)
		ct_die("socket");
	return fd;
}

int ct_connect(unsigned port)
{
	int fd = ct_socket(SOCK_STREAM);
	struct sockaddr_in a = ct_addr(PEER_IP, port);
	if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
		ct_die("connect to %s:%u", PEER_IP, port);
	return fd;
}

int ct_connect_small(unsigned port)
{
	int fd = ct_socket(SOCK_STREAM);
	ct_setint(fd, SOL_SOCKET, SO_SNDBUF, 32768);
	struct sockaddr_in a = ct_addr(PEER_IP, port);
	if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
		ct_die("connect to %s:%u", PEER_IP, port);
	return fd;
}

int ct_listen(unsigned port, int backlog)
{
	int fd = ct_socket(SOCK_STREAM);
	struct sockaddr_in a = ct_addr(SELF_IP, port);
	if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0)
		ct_die("bind %s:%u", SELF_IP, port);
	if (listen(fd, backlog) < 0)
		ct_die("listen");
	return fd;
}

int ct_udp(unsigned port)
{
	int fd = ct_socket(SOCK_DGRAM);
	if (port) {
		struct sockaddr_in a = ct_addr(SELF_IP, port);
		if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0)
			ct_die("bind udp %s:%u", SELF_IP, port);
	}
	return fd;
}

int ct_accept(int lfd)
{
	int fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		ct_die("accept");
	return fd;
}

void ct_set_nonblock(int fd, int on)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK) < 0)
		ct_die("fcntl O_NONBLOCK");
}

void ct_setint(int fd, int level, int opt, int val)
{
	if (setsockopt(fd, level, opt, &val, sizeof val) < 0)
		ct_die("setsockopt %d/%d", level, opt);
}

int ct_getint(int fd, int level, int opt)
{
	int v = 0;
	socklen_t l = sizeof v;
	if (getsockopt(fd, level, opt, &v, &l) < 0)
		ct_die("getsockopt %d/%d", level, opt);
	return v;
}

void ct_send_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	while (n > 0) {
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			ct_die("send_all");
		p += k;
		n -= k;
	}
}

void ct_recv_all(int fd, void *buf, size_t n)
{
	char *p = buf;
	while (n > 0) {
		ssize_t k = recv(fd, p, n, 0);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			ct_die("recv_all");
		if (k == 0)
			ct_die("recv_all: early EOF with %zu bytes missing", n);
		p += k;
		n -= k;
	}
}

int ct_wait_bytes(int fd, int n, int ms)
{
	long end = ct_now_ms() + ms;
	int avail = 0;
	for (;;) {
		if (ioctl(fd, FIONREAD, &avail) < 0)
			ct_die("FIONREAD");
		if (avail >= n || ct_now_ms() >= end)
			return avail;
		struct pollfd p = { .fd = fd, .events = POLLIN };
		poll(&p, 1, 5);
		if (avail > 0 || (p.revents & (POLLHUP | POLLERR)))
			ct_sleep_ms(2);
	}
}

int ct_wait_event(int fd, short events, short want, int ms)
{
	long end = ct_now_ms() + ms;
	for (;;) {
		long left = end - ct_now_ms();
		if (left < 0)
			left = 0;
		struct pollfd p = { .fd = fd, .events = events };
		int r = poll(&p, 1, (int)left);
		if (r < 0 && errno != EINTR)
			ct_die("poll");
		if (r > 0 && (p.revents & want))
			return p.revents;
		if (left == 0)
			return r > 0 ? p.revents : 0;
		if (r > 0)
			ct_sleep_ms(2); // an unwanted event is already set: avoid a busy loop
	}
}

long ct_fill(int fd)
{
	static char chunk[65536];
	int fl = fcntl(fd, F_GETFL);
	long total = 0;
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	// A round writes big chunks until EAGAIN, then single bytes until EAGAIN
	// (a small write may still fit in a partly filled last segment). Two
	// consecutive empty rounds 100 ms apart mean the send path is full and
	// stays full; the last check is the last thing done before returning.
	for (int idle_rounds = 0;;) {
		long round = 0;
		for (size_t size = sizeof chunk; size;) {
			ssize_t k = send(fd, chunk, size, MSG_NOSIGNAL);
			if (k > 0) {
				round += k;
				continue;
			}
			if (k < 0 && errno == EINTR)
				continue;
			if (k < 0 && errno == EAGAIN) {
				size = size > 1 ? 1 : 0;
				continue;
			}
			ct_die("fill: send");
		}
		total += round;
		idle_rounds = round ? 0 : idle_rounds + 1;
		if (idle_rounds == 2)
			break;
		ct_sleep_ms(100); // let in-flight data be acknowledged, windows settle
	}
	fcntl(fd, F_SETFL, fl);
	return total;
}

void ct_pattern(void *buf, size_t n, uint64_t offset)
{
	unsigned char *p = buf;
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)((offset + i) % 251);
}

uint32_t ct_sum(uint32_t h, const void *buf, size_t n)
{
	const unsigned char *p = buf;
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 16777619u;
	}
	return h;
}

long ct_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

void *ct_bad_ptr(void)
{
	return (void *)1;
}

long long ct_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

void t_waited(const char *what, long long start_us, int ms)
{
	long long waited = ct_now_us() - start_us;
	const long long one_tick_us = 10000;
	printf("%s: returned after >= %d ms: %s\n", what, ms,
	       waited >= ms * 1000LL - one_tick_us ? "yes" : "NO");
}

void ct_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

void ct_sigaction(int sig, void (*fn)(int), int flags)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = fn;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	if (sigaction(sig, &sa, NULL) < 0)
		ct_die("sigaction");
}

void ct_alarm_ms(int ms)
{
	struct itimerval it;
	memset(&it, 0, sizeof it);
	it.it_value.tv_sec = ms / 1000;
	it.it_value.tv_usec = (ms % 1000) * 1000;
	if (setitimer(ITIMER_REAL, &it, NULL) < 0)
		ct_die("setitimer");
}

// ---- synchronisation ------------------------------------------------------

static const char *sync_path(const char *name)
{
	static __thread char buf[512];
	const char *dir = getenv("CT_SYNC");
	if (!dir || !*dir)
		ct_die("CT_SYNC is not set (run tests through c-tests/run)");
	snprintf(buf, sizeof buf, "%s/%s", dir, name);
	return buf;
}

void ct_signal(const char *name)
{
	int e = errno;
	int fd = open(sync_path(name), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	if (fd < 0)
		ct_die("sync signal %s", name);
	close(fd);
	errno = e;
}

void ct_wait(const char *name, int ms)
{
	int e = errno;
	long end = ct_now_ms() + ms;
	const char *p = sync_path(name);
	while (access(p, F_OK) != 0) {
		if (ct_now_ms() > end)
			ct_die("sync wait %s timed out", name);
		ct_sleep_ms(2);
	}
	errno = e;
}

void ct_peer_report(unsigned port)
{
	// Plain recv(), no stdio: glibc's stdio reads a socket through its
	// internal read, which an LD_PRELOAD shim cannot see (089 tests that).
	int fd = ct_connect(port + 1);
	static char buf[65536];
	size_t n = 0;
	for (;;) {
		ssize_t k = recv(fd, buf + n, sizeof buf - 1 - n, 0);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			ct_die("peer report: recv");
		if (k == 0 || (n += k) == sizeof buf - 1)
			break;
	}
	close(fd);
	buf[n] = 0;
	for (char *line = buf, *nl; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		if (!nl) {
			printf("peer: %s\n", line);
			break;
		}
		printf("peer: %.*s\n", (int)(nl - line), line);
	}
}

void ct_send_fd(int via, int fd)
{
	char c = 'F';
	struct iovec iov = { &c, 1 };
	char cbuf[CMSG_SPACE(sizeof(int))];
	memset(cbuf, 0, sizeof cbuf);
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof fd);
	if (sendmsg(via, &m, 0) != 1)
		ct_die("sendmsg");
}

int ct_recv_fd(int via)
{
	char c;
	struct iovec iov = { &c, 1 };
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf };
	if (recvmsg(via, &m, 0) != 1)
		ct_die("recvmsg");
	struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
	if (!cm || cm->cmsg_type != SCM_RIGHTS)
		ct_die("no SCM_RIGHTS");
	int fd;
	memcpy(&fd, CMSG_DATA(cm), sizeof fd);
	return fd;
}

void t_recvfrom(const char *what, int fd, int ms)
{
	char buf[64];
	struct sockaddr_storage from;
	socklen_t fl = sizeof from;
	if (!ct_wait_event(fd, POLLIN, POLLIN, ms)) {
		t_log("%s: nothing", what);
		return;
	}
	long n = T_CALL(what, recvfrom(fd, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr *)&from, &fl));
	t_data("  data", buf, n);
	if (n >= 0)
		t_log("  from %s", t_addrstr((struct sockaddr *)&from, fl));
}

// ---- control messages -------------------------------------------------------

static const char *ifindex_name(unsigned ifindex)
{
	unsigned dev = if_nametoindex("cta");
	if (!dev)
		dev = if_nametoindex("sockshim0");
	return ifindex == 1 ? "lo" : ifindex == dev ? "device" : "other";
}

void t_cmsgs(struct msghdr *m)
{
	const unsigned char *end = (const unsigned char *)m->msg_control + m->msg_controllen;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
		const unsigned char *d = CMSG_DATA(c);
		size_t dl = c->cmsg_len - CMSG_LEN(0), len = c->cmsg_len;
		if (d + dl > end)
			dl = end - d;
		int lv = c->cmsg_level, ty = c->cmsg_type, v = 0;
		if (dl >= sizeof v)
			memcpy(&v, d, sizeof v);
		char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];
		if (lv == SOL_SOCKET && (ty == SO_TIMESTAMP || ty == SO_TIMESTAMPNS) && dl >= 8) {
			struct timespec now;
			clock_gettime(CLOCK_REALTIME, &now);
			long long sec;
			memcpy(&sec, d, sizeof sec);
			t_log("  cmsg %s len %zu: within 5 s of now: %s", ty == SO_TIMESTAMP ? "SO_TIMESTAMP" : "SO_TIMESTAMPNS",
			      len, (sec <= now.tv_sec && sec >= now.tv_sec - 5) ? "yes" : "no");
		} else if (lv == SOL_IP && ty == IP_PKTINFO && dl >= sizeof(struct in_pktinfo)) {
			struct in_pktinfo pi;
			memcpy(&pi, d, sizeof pi);
			inet_ntop(AF_INET, &pi.ipi_spec_dst, a, sizeof a);
			inet_ntop(AF_INET, &pi.ipi_addr, b, sizeof b);
			t_log("  cmsg IP_PKTINFO len %zu: ifindex %s spec_dst %s addr %s", len, ifindex_name(pi.ipi_ifindex), a, b);
		} else if (lv == SOL_IP && ty == IP_TTL && dl >= sizeof v) {
			t_log("  cmsg IP_TTL len %zu: %d", len, v);
		} else if (lv == SOL_IP && ty == IP_TOS && dl >= 1) {
			t_log("  cmsg IP_TOS len %zu: 0x%02x", len, d[0]);
		} else if (lv == SOL_IP && ty == IP_ORIGDSTADDR && dl >= sizeof(struct sockaddr_in)) {
			t_log("  cmsg IP_ORIGDSTADDR len %zu: %s", len, t_addrstr((const struct sockaddr *)d, sizeof(struct sockaddr_in)));
		} else if (lv == SOL_IPV6 && ty == IPV6_PKTINFO && dl >= sizeof(struct in6_pktinfo)) {
			struct in6_pktinfo pi;
			memcpy(&pi, d, sizeof pi);
			inet_ntop(AF_INET6, &pi.ipi6_addr, a, sizeof a);
			t_log("  cmsg IPV6_PKTINFO len %zu: addr %s ifindex %s", len, a, ifindex_name(pi.ipi6_ifindex));
		} else if (lv == SOL_IPV6 && ty == IPV6_HOPLIMIT && dl >= sizeof v) {
			t_log("  cmsg IPV6_HOPLIMIT len %zu: %d", len, v);
		} else if (lv == SOL_IPV6 && ty == IPV6_TCLASS && dl >= sizeof v) {
			t_log("  cmsg IPV6_TCLASS len %zu: 0x%02x", len, v);
		} else if (lv == SOL_IPV6 && ty == IPV6_ORIGDSTADDR && dl >= sizeof(struct sockaddr_in6)) {
			t_log("  cmsg IPV6_ORIGDSTADDR len %zu: %s", len,
			      t_addrstr((const struct sockaddr *)d, sizeof(struct sockaddr_in6)));
		} else if (lv == SOL_TCP && ty == TCP_CM_INQ && dl >= sizeof v) {
			t_log("  cmsg TCP_CM_INQ len %zu: %d", len, v);
		} else {
			t_log("  cmsg level %d type %d len %zu (%zu bytes here)", lv, ty, len, dl);
		}
	}
}

void t_recvmsg_cmsgs(const char *what, int fd, size_t room)
{
	char buf[64], cbuf[512];
	struct sockaddr_storage from;
	if (room > sizeof cbuf)
		room = sizeof cbuf;
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof buf };
	struct msghdr m = { .msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov,
			    .msg_iovlen = 1, .msg_control = room ? cbuf : NULL, .msg_controllen = room };
	memset(cbuf, 0, sizeof cbuf);
	if (!ct_wait_event(fd, POLLIN, POLLIN, 5000))
		t_log("%s: nothing arrived", what);
	long n = T_CALL(what, recvmsg(fd, &m, MSG_DONTWAIT));
	if (n < 0)
		return;
	t_data("  data", buf, n);
	t_log("  from %s", t_addrstr((struct sockaddr *)&from, m.msg_namelen));
	t_log("  msg_flags%s, controllen %zu", (m.msg_flags & MSG_CTRUNC) ? " MSG_CTRUNC" : "", (size_t)m.msg_controllen);
	t_cmsgs(&m);
}
