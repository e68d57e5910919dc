/*
 * sockshim_so.c: packetdrill's --so_filename object for testing sockshim.
 *
 * packetdrill (run with LD_PRELOAD=libsockshim.so) calls the script's
 * socket calls through this object and uses it as its network device:
 *  - socket calls go to whatever the process's global scope resolves, i.e.
 *    the LD_PRELOADed shim. packetdrill dlopens us with RTLD_DEEPBIND, so a
 *    plain call from here would bind to libc first; every call is looked up
 *    with dlsym(dlopen(NULL, ...), name) instead.
 *  - the stack's device is the TUN device that the shim attaches to
 *    (SOCKSHIM_TUN, tun0 by the harness). Its kernel side is our wire: an
 *    AF_PACKET socket bound to it sniffs what the stack sends (the kernel
 *    receives it) and injects what the script sends (the kernel transmits
 *    it to the shim). AF_PACKET refuses frames over the device MTU, so the
 *    harness raises the device MTU and gives the stack its MTU through
 *    SOCKSHIM_MTU.
 *
 * Flags (--so_flags, comma separated): dev=NAME (default $SOCKSHIM_TUN or
 * tun0), timeout_ms=N (how long to wait for an expected packet before
 * returning "nothing"; packetdrill retries forever on -1, so a timeout
 * returns 0 bytes, which packetdrill reports as an error).
 *
 * The harness is scripts/packetdrill; this object is built by it.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/sockios.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* packetdrill's interface (gtests/net/packetdrill/packetdrill.h), declared
 * here with the same layout so the project needs no packetdrill header. */
struct packetdrill_interface {
	void *userdata;
	void (*free)(void *userdata);
	int (*socket)(void *, int, int, int);
	int (*bind)(void *, int, const struct sockaddr *, socklen_t);
	int (*listen)(void *, int, int);
	int (*accept)(void *, int, struct sockaddr *, socklen_t *);
	int (*connect)(void *, int, const struct sockaddr *, socklen_t);
	ssize_t (*read)(void *, int, void *, size_t);
	ssize_t (*readv)(void *, int, const struct iovec *, int);
	ssize_t (*recv)(void *, int, void *, size_t, int);
	ssize_t (*recvfrom)(void *, int, void *, size_t, int,
			    struct sockaddr *, socklen_t *);
	ssize_t (*recvmsg)(void *, int, struct msghdr *, int);
	ssize_t (*write)(void *, int, const void *, size_t);
	ssize_t (*writev)(void *, int, const struct iovec *, int);
	ssize_t (*send)(void *, int, const void *, size_t, int);
	ssize_t (*sendto)(void *, int, const void *, size_t, int,
			  const struct sockaddr *, socklen_t);
	ssize_t (*sendmsg)(void *, int, const struct msghdr *, int);
	int (*fcntl)(void *, int, int, ...);
	int (*ioctl)(void *, int, unsigned long, ...);
	int (*close)(void *, int);
	int (*shutdown)(void *, int, int);
	int (*getsockopt)(void *, int, int, int, void *, socklen_t *);
	int (*setsockopt)(void *, int, int, int, const void *, socklen_t);
	int (*poll)(void *, struct pollfd *, nfds_t, int);
	int (*netdev_send)(void *, const void *, size_t);
	int (*netdev_receive)(void *, void *, size_t *, long long *);
	int (*usleep)(void *, useconds_t);
	int (*gettimeofday)(void *, struct timeval *, struct timezone *);
	int (*epoll_create)(void *, int);
	int (*epoll_ctl)(void *, int, int, int, struct epoll_event *);
	int (*epoll_wait)(void *, int, struct epoll_event *, int, int);
	int (*pipe)(void *, int[2]);
	int (*splice)(void *, int, loff_t *, int, loff_t *, size_t,
		      unsigned int);
};

/* The global scope's (the shim's, when preloaded) functions. */
static struct {
	int (*socket)(int, int, int);
	int (*bind)(int, const struct sockaddr *, socklen_t);
	int (*listen)(int, int);
	int (*accept)(int, struct sockaddr *, socklen_t *);
	int (*connect)(int, const struct sockaddr *, socklen_t);
	ssize_t (*read)(int, void *, size_t);
	ssize_t (*readv)(int, const struct iovec *, int);
	ssize_t (*recv)(int, void *, size_t, int);
	ssize_t (*recvfrom)(int, void *, size_t, int, struct sockaddr *,
			    socklen_t *);
	ssize_t (*recvmsg)(int, struct msghdr *, int);
	ssize_t (*write)(int, const void *, size_t);
	ssize_t (*writev)(int, const struct iovec *, int);
	ssize_t (*send)(int, const void *, size_t, int);
	ssize_t (*sendto)(int, const void *, size_t, int,
			  const struct sockaddr *, socklen_t);
	ssize_t (*sendmsg)(int, const struct msghdr *, int);
	int (*fcntl)(int, int, ...);
	int (*ioctl)(int, unsigned long, ...);
	int (*close)(int);
	int (*shutdown)(int, int);
	int (*getsockopt)(int, int, int, void *, socklen_t *);
	int (*setsockopt)(int, int, int, const void *, socklen_t);
	int (*poll)(struct pollfd *, nfds_t, int);
	int (*epoll_create)(int);
	int (*epoll_ctl)(int, int, int, struct epoll_event *);
	int (*epoll_wait)(int, struct epoll_event *, int, int);
	int (*pipe)(int[2]);
	ssize_t (*splice)(int, loff_t *, int, loff_t *, size_t, unsigned int);
} g;

struct wire {
	int fd;		/* AF_PACKET socket on the device */
	int ifindex;
	int timeout_ms;
	int tun_fd;	/* the shim's own TUN fd, found once (-1: not yet) */
};

static void *global_sym(void *scope, const char *name)
{
	void *p = dlsym(scope, name);

	if (!p) {
		fprintf(stderr, "sockshim_so: no symbol %s\n", name);
		abort();
	}
	return p;
}

static void resolve(void)
{
	void *scope = dlopen(NULL, RTLD_NOW);

	if (!scope) {
		fprintf(stderr, "sockshim_so: dlopen(NULL): %s\n", dlerror());
		abort();
	}
#define R(name) (*(void **)&g.name = global_sym(scope, #name))
	R(socket); R(bind); R(listen); R(accept); R(connect);
	R(read); R(readv); R(recv); R(recvfrom); R(recvmsg);
	R(write); R(writev); R(send); R(sendto); R(sendmsg);
	R(fcntl); R(ioctl); R(close); R(shutdown);
	R(getsockopt); R(setsockopt); R(poll);
	R(epoll_create); R(epoll_ctl); R(epoll_wait); R(pipe); R(splice);
#undef R
}

static void w_free(void *u)
{
	struct wire *w = u;

	if (w->fd >= 0)
		close(w->fd);
	free(w);
}

static int w_socket(void *u, int d, int t, int p)
{ (void)u; return g.socket(d, t, p); }
static int w_bind(void *u, int s, const struct sockaddr *a, socklen_t l)
{ (void)u; return g.bind(s, a, l); }
static int w_listen(void *u, int s, int b)
{ (void)u; return g.listen(s, b); }
static int w_accept(void *u, int s, struct sockaddr *a, socklen_t *l)
{ (void)u; return g.accept(s, a, l); }
static int w_connect(void *u, int s, const struct sockaddr *a, socklen_t l)
{ (void)u; return g.connect(s, a, l); }
static ssize_t w_read(void *u, int fd, void *b, size_t n)
{ (void)u; return g.read(fd, b, n); }
static ssize_t w_readv(void *u, int fd, const struct iovec *v, int c)
{ (void)u; return g.readv(fd, v, c); }
static ssize_t w_recv(void *u, int s, void *b, size_t n, int f)
{ (void)u; return g.recv(s, b, n, f); }
static ssize_t w_recvfrom(void *u, int s, void *b, size_t n, int f,
			  struct sockaddr *a, socklen_t *l)
{ (void)u; return g.recvfrom(s, b, n, f, a, l); }
static ssize_t w_recvmsg(void *u, int s, struct msghdr *m, int f)
{ (void)u; return g.recvmsg(s, m, f); }
static ssize_t w_write(void *u, int fd, const void *b, size_t n)
{ (void)u; return g.write(fd, b, n); }
static ssize_t w_writev(void *u, int fd, const struct iovec *v, int c)
{ (void)u; return g.writev(fd, v, c); }
static ssize_t w_send(void *u, int s, const void *b, size_t n, int f)
{ (void)u; return g.send(s, b, n, f); }
static ssize_t w_sendto(void *u, int s, const void *b, size_t n, int f,
			const struct sockaddr *a, socklen_t l)
{ (void)u; return g.sendto(s, b, n, f, a, l); }
static ssize_t w_sendmsg(void *u, int s, const struct msghdr *m, int f)
{ (void)u; return g.sendmsg(s, m, f); }
static int w_close(void *u, int fd)
{ (void)u; return g.close(fd); }
static int w_shutdown(void *u, int s, int h)
{ (void)u; return g.shutdown(s, h); }
static int w_getsockopt(void *u, int s, int lv, int n, void *v, socklen_t *l)
{ (void)u; return g.getsockopt(s, lv, n, v, l); }
static int w_setsockopt(void *u, int s, int lv, int n, const void *v,
			socklen_t l)
{ (void)u; return g.setsockopt(s, lv, n, v, l); }
static int w_poll(void *u, struct pollfd *f, nfds_t n, int t)
{ (void)u; return g.poll(f, n, t); }
static int w_usleep(void *u, useconds_t us)
{ (void)u; return usleep(us); }
static int w_gettimeofday(void *u, struct timeval *tv, struct timezone *tz)
{ (void)u; return gettimeofday(tv, tz); }
static int w_epoll_create(void *u, int n)
{ (void)u; return g.epoll_create(n); }
static int w_epoll_ctl(void *u, int e, int op, int fd, struct epoll_event *ev)
{ (void)u; return g.epoll_ctl(e, op, fd, ev); }
static int w_epoll_wait(void *u, int e, struct epoll_event *ev, int n, int t)
{ (void)u; return g.epoll_wait(e, ev, n, t); }
static int w_pipe(void *u, int p[2])
{ (void)u; return g.pipe(p); }

/* fcntl and ioctl take one optional argument: on the x86_64 and aarch64
 * Linux ABIs it is passed as one machine word whatever its type. */
static int w_fcntl(void *u, int fd, int cmd, ...)
{
	va_list ap;
	unsigned long arg;

	(void)u;
	va_start(ap, cmd);
	arg = va_arg(ap, unsigned long);
	va_end(ap);
	return g.fcntl(fd, cmd, arg);
}

static int w_ioctl(void *u, int fd, unsigned long req, ...)
{
	va_list ap;
	unsigned long arg;

	(void)u;
	va_start(ap, req);
	arg = va_arg(ap, unsigned long);
	va_end(ap);
	return g.ioctl(fd, req, arg);
}

/* In so mode packetdrill passes pointers to the script's offset values
 * where its local mode passes the values themselves (as pointers): undo
 * that, so a script's NULL is NULL. */
static int w_splice(void *u, int in, loff_t *off_in, int out, loff_t *off_out,
		    size_t len, unsigned int flags)
{
	loff_t *pin = off_in ? (loff_t *)(intptr_t)*off_in : NULL;
	loff_t *pout = off_out ? (loff_t *)(intptr_t)*off_out : NULL;

	(void)u;
	return (int)g.splice(in, pin, out, pout, len, flags);
}

/* The shim's TUN fd: the one fd of this process open on /dev/net/tun. */
static int find_tun_fd(void)
{
	char path[64], target[64];
	int fd;

	for (fd = 0; fd < 4096; fd++) {
		ssize_t n;

		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		n = readlink(path, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = 0;
		if (!strcmp(target, "/dev/net/tun"))
			return fd;
	}
	return -1;
}

/* The kernel handles an injected packet before the injecting write
 * returns; the shim's driver thread reads it a little later. So that a
 * script's next call (often at +0) sees the packet's effect on both sides,
 * wait until the shim has taken every queued frame off its TUN fd (at most
 * 50 ms), then a little more for it to process the last one. */
static void wait_consumed(struct wire *w)
{
	int i;

	if (w->tun_fd < 0)
		w->tun_fd = find_tun_fd();
	if (w->tun_fd < 0)
		return;
	for (i = 0; i < 1000; i++) {
		struct pollfd pfd = { .fd = w->tun_fd, .events = POLLIN };

		if (poll(&pfd, 1, 0) != 1 || !(pfd.revents & POLLIN))
			break;
		usleep(50);
	}
	usleep(200);
}

/* Inject one IP packet towards the stack: the kernel transmits it on the
 * device, where the shim reads it. */
static int w_netdev_send(void *u, const void *buf, size_t n)
{
	struct wire *w = u;
	struct sockaddr_ll sll;
	const unsigned char *p = buf;

	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_ifindex = w->ifindex;
	sll.sll_protocol = htons(n > 0 && (p[0] >> 4) == 6 ? ETH_P_IPV6
							    : ETH_P_IP);
	if (sendto(w->fd, buf, n, 0, (struct sockaddr *)&sll,
		   sizeof(sll)) != (ssize_t)n) {
		perror("sockshim_so: inject");
		return -1;
	}
	wait_consumed(w);
	return 0;
}

/* The next packet the stack sent (the kernel received it on the device),
 * or *count = 0 after timeout_ms without one. */
static int w_netdev_receive(void *u, void *buf, size_t *count,
			    long long *time_usecs)
{
	struct wire *w = u;
	struct timespec start, now;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		struct pollfd pfd = { .fd = w->fd, .events = POLLIN };
		long waited;
		struct sockaddr_ll from;
		socklen_t flen = sizeof(from);
		struct timeval tv;
		ssize_t n;

		clock_gettime(CLOCK_MONOTONIC, &now);
		waited = (now.tv_sec - start.tv_sec) * 1000 +
			 (now.tv_nsec - start.tv_nsec) / 1000000;
		if (waited >= w->timeout_ms) {
			*count = 0;
			return 0;
		}
		if (poll(&pfd, 1, w->timeout_ms - waited) <= 0)
			continue;
		n = recvfrom(w->fd, buf, *count, MSG_DONTWAIT,
			     (struct sockaddr *)&from, &flen);
		if (n < 0)
			continue;
		if (from.sll_pkttype == PACKET_OUTGOING ||
		    from.sll_ifindex != w->ifindex)
			continue;	/* our own injection */
		if (ioctl(w->fd, SIOCGSTAMP, &tv) < 0)
			gettimeofday(&tv, NULL);
		*time_usecs = (long long)tv.tv_sec * 1000000 + tv.tv_usec;
		*count = (size_t)n;
		return 0;
	}
}

static void parse_flags(const char *flags, char *dev, size_t devlen,
			int *timeout_ms)
{
	const char *env = getenv("SOCKSHIM_TUN");
	char *copy, *tok, *save = NULL;

	snprintf(dev, devlen, "%s", env ? env : "tun0");
	*timeout_ms = 5000;
	if (!flags)
		return;
	copy = strdup(flags);
	for (tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (!strncmp(tok, "dev=", 4))
			snprintf(dev, devlen, "%s", tok + 4);
		else if (!strncmp(tok, "timeout_ms=", 11))
			*timeout_ms = atoi(tok + 11);
	}
	free(copy);
}

void packetdrill_interface_init(const char *flags,
				struct packetdrill_interface *ifc)
{
	struct wire *w = calloc(1, sizeof(*w));
	struct sockaddr_ll sll;
	char dev[IF_NAMESIZE + 1];
	int one = 1, rcvbuf = 4 << 20;
	struct timeval tv;

	resolve();
	w->tun_fd = -1;
	parse_flags(flags, dev, sizeof(dev), &w->timeout_ms);
	w->ifindex = if_nametoindex(dev);
	if (!w->ifindex) {
		fprintf(stderr, "sockshim_so: no device %s\n", dev);
		abort();
	}
	w->fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_ALL));
	if (w->fd < 0) {
		perror("sockshim_so: socket(AF_PACKET)");
		abort();
	}
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_ifindex = w->ifindex;
	sll.sll_protocol = htons(ETH_P_ALL);
	if (bind(w->fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		perror("sockshim_so: bind(AF_PACKET)");
		abort();
	}
	setsockopt(w->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one,
		   sizeof(one));
	setsockopt(w->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	ioctl(w->fd, SIOCGSTAMP, &tv);	/* enable timestamps now */

	memset(ifc, 0, sizeof(*ifc));
	ifc->userdata = w;
	ifc->free = w_free;
	ifc->socket = w_socket;
	ifc->bind = w_bind;
	ifc->listen = w_listen;
	ifc->accept = w_accept;
	ifc->connect = w_connect;
	ifc->read = w_read;
	ifc->readv = w_readv;
	ifc->recv = w_recv;
	ifc->recvfrom = w_recvfrom;
	ifc->recvmsg = w_recvmsg;
	ifc->write = w_write;
	ifc->writev = w_writev;
	ifc->send = w_send;
	ifc->sendto = w_sendto;
	ifc->sendmsg = w_sendmsg;
	ifc->fcntl = w_fcntl;
	ifc->ioctl = w_ioctl;
	ifc->close = w_close;
	ifc->shutdown = w_shutdown;
	ifc->getsockopt = w_getsockopt;
	ifc->setsockopt = w_setsockopt;
	ifc->poll = w_poll;
	ifc->netdev_send = w_netdev_send;
	ifc->netdev_receive = w_netdev_receive;
	ifc->usleep = w_usleep;
	ifc->gettimeofday = w_gettimeofday;
	ifc->epoll_create = w_epoll_create;
	ifc->epoll_ctl = w_epoll_ctl;
	ifc->epoll_wait = w_epoll_wait;
	ifc->pipe = w_pipe;
	ifc->splice = w_splice;
}
