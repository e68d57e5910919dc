// peer.c — the kernel-socket peer B (10.7.0.1) for the c-tests suite.
//
// The runner starts one peer per `// PEER:` line of a test, in B's namespace
// (kernel run) or in S (shim run), always on kernel sockets, and waits for
// it to create $CT_READY before it starts the program under test (A).
//
//   peer tcp PORT [listener options] [steps]
//       listen on 10.7.0.1:PORT; run the steps on every accepted connection,
//       each connection in its own thread (connections are numbered conn1,
//       conn2, ... in accept order).
//       listener options: backlog:N (default 128)  noaccept  accepton:NAME
//                         fill:N (N connections to itself right after listen,
//                         to fill a small backlog)  rcvbuf:N  sndbuf:N
//   peer connect PORT [count:N] [try:MS] [after:NAME | nowait] [steps]
//       wait for $CT_SYNC/NAME (default "listening", created by A's
//       ct_signal), then make N (default 1) connections to 10.7.0.2:PORT one
//       after the other (try:MS = non-blocking connect that gives up after
//       MS), then run the steps on each in its own thread.
//   peer udp PORT [any] [join:GROUP] [steps]
//       bind 10.7.0.1:PORT (UDP; any: 0.0.0.0:PORT, to receive broadcasts
//       and multicasts) and run the steps once, in order. join:GROUP joins
//       the multicast GROUP on the interface holding 10.7.0.1 (with
//       CT_V6: the IPv6 GROUP on the interface holding fd00:7::1, which
//       also sends to it: the shim's TUN device has no carrier yet, so its
//       multicast route is not used).
//   peer igmp PORT [join:G1,G2...] [steps]
//       join 224.0.0.22 (all IGMPv3 routers) and the groups of join: on
//       10.7.0.1 with a raw IGMP socket and log every IGMP message that
//       arrives from another host: its TTL, TOS, whether it has the Router
//       Alert option, and a report's records (sources sorted, records
//       sorted) or an IGMPv1/v2 message's group. After the Nth message it
//       creates $CT_SYNC/igmpN. The steps (wait:NAME sleep:MS signal:NAME
//       join:G1,G2... query:V/GROUP/CODE[/S1,S2...]) run in their own
//       thread: join joins more groups (the kernel's own reports of an
//       IPv6 join come from :: until its link-local address is ready:
//       join late, to tell them from the program's), query sends
//       an IGMPv1/2/3 query (V) with that Max Resp Code to GROUP (0.0.0.0:
//       a general query, to 224.0.0.1), TTL 1, not looped back.
//   peer mld PORT [join:G1,G2...] [steps]
//       the same for MLD (ff02::16 and the groups of join: on the
//       interface holding fd00:7::1), but record by record: a record is
//       logged when it differs from its group's last one (the kernel
//       repeats a change a varying number of times), groups of link-local
//       and smaller scope left out (the kernel's own solicited-node
//       groups, and the peer's own); an MLDv1 report or done counts as a
//       record of its group.
//       After the Nth record logged it creates $CT_SYNC/mldN. query:
//       sends an MLDv1/v2 query (V 1 or 2, GROUP :: for a general one, to
//       ff02::1) from the link-local address, hop limit 1, Router Alert.
//
// Connection steps: echo  recvall  recv:N  send:TEXT  sendn:N
//   trickle:N:CHUNK:MS  shutwr  shutrd  close  rst  sleep:MS  wait:NAME
//   signal:NAME  waitrdhup  rcvbuf:N  sndbuf:N
// UDP steps: echo  sink  recv  sendto:PORT:TEXT  sendton:PORT:N  sleep:MS
//   wait:NAME  signal:NAME  sendgrp:PORT:TEXT (to the joined group)
//
// With CT_V6=1 (a test marked `// IPV6: yes`) the peer's sockets are
// AF_INET6: it listens on [::] (both families) and connects and sends to
// fd00:7::2.
//
// Every peer also serves a report on 10.7.0.1:PORT+1: a connection there
// receives the log lines of what the peer observed ("conn1: recvall 5 bytes
// ... end ECONNRESET"), once all its connections have finished their steps
// (at most 3 s). The program under test prints them with ct_peer_report().
#include "trace.h"

#include <ifaddrs.h>
#include <net/if.h>
#include <pthread.h>
#include <stdarg.h>
#include <sys/prctl.h>

static const char *mode;
static unsigned port;
static int v6; // CT_V6=1: AF_INET6 sockets, [::] and fd00:7::2

static int psocket(int type)
{
	int fd = socket(v6 ? AF_INET6 : AF_INET, type, 0);
	if (fd < 0)
		ct_die("peer socket");
	return fd;
}

// Bind fd to the peer's address and port p: 10.7.0.1, or [::] with CT_V6.
static int pbind(int fd, unsigned p)
{
	if (v6) {
		struct sockaddr_in6 a = ct_addr6("::", p);
		return bind(fd, (struct sockaddr *)&a, sizeof a);
	}
	struct sockaddr_in a = ct_addr(PEER_IP, p);
	return bind(fd, (struct sockaddr *)&a, sizeof a);
}

// Program A's address and port p in *ss: 10.7.0.2, or fd00:7::2 with CT_V6.
static socklen_t self_addr(unsigned p, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof *ss);
	if (v6) {
		struct sockaddr_in6 a = ct_addr6(SELF_IP6, p);
		memcpy(ss, &a, sizeof a);
		return sizeof a;
	}
	struct sockaddr_in a = ct_addr(SELF_IP, p);
	memcpy(ss, &a, sizeof a);
	return sizeof a;
}
static char **steps;
static int nsteps;

// ---- log ------------------------------------------------------------------

struct logline {
	int conn;
	char text[200];
};
static struct logline logv[4096];
static int nlog;
static int active;       // connections still running their steps
static int main_busy = 1; // main thread still making/accepting connections it owes
static int listen_fd = -1, accepting;
// The UDP socket while the main thread is in a receiving step (sink, echo,
// recv): a datagram queued there and not yet read is work still owed to
// the report, as a queued connection is (and main_busy while one is being
// handled). Without it a report asked for right after the program's last
// datagram could be written before the main thread got to read it (seen
// under load: 055_efault's "peer: dgram" line missing).
static int udp_reading = -1;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static void plog(int conn, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void plog(int conn, const char *fmt, ...)
{
	va_list ap;
	pthread_mutex_lock(&mu);
	if (nlog < (int)(sizeof logv / sizeof logv[0])) {
		logv[nlog].conn = conn;
		va_start(ap, fmt);
		vsnprintf(logv[nlog].text, sizeof logv[nlog].text, fmt, ap);
		va_end(ap);
		fprintf(stderr, "peer log conn%d: %s\n", conn, logv[nlog].text);
		nlog++;
	}
	pthread_mutex_unlock(&mu);
}

static int quiet(void)
{
	pthread_mutex_lock(&mu);
	int q = active == 0 && !main_busy;
	int lfd = accepting ? listen_fd : -1;
	int ufd = udp_reading;
	pthread_mutex_unlock(&mu);
	if (q && lfd >= 0) {
		struct pollfd p = { .fd = lfd, .events = POLLIN };
		if (poll(&p, 1, 0) > 0)
			q = 0; // a connection is queued but not yet accepted
	}
	if (q && ufd >= 0) {
		struct pollfd p = { .fd = ufd, .events = POLLIN };
		if (poll(&p, 1, 0) > 0)
			q = 0; // a datagram is queued but not yet read
	}
	return q;
}

static void *report_thread(void *arg)
{
	int lfd = (int)(long)arg;
	for (;;) {
		int c = accept(lfd, NULL, NULL);
		if (c < 0)
			continue;
		long end = ct_now_ms() + 3000;
		int stable = 0;
		while (stable < 2 && ct_now_ms() < end) {
			stable = quiet() ? stable + 1 : 0;
			ct_sleep_ms(20);
		}
		pthread_mutex_lock(&mu);
		char buf[256];
		if (stable < 2)
			dprintf(c, "(report after 3 s: %d connection(s) still running)\n", active);
		// stable sort by connection number
		for (int k = 0; k <= 4096; k++) {
			int any_higher = 0;
			for (int i = 0; i < nlog; i++) {
				if (logv[i].conn == k) {
					snprintf(buf, sizeof buf, "%s%.0d%s%s\n", k ? "conn" : "", k,
						 k ? ": " : "", logv[i].text);
					(void)!write(c, buf, strlen(buf));
				} else if (logv[i].conn > k) {
					any_higher = 1;
				}
			}
			if (!any_higher)
				break;
		}
		pthread_mutex_unlock(&mu);
		close(c);
	}
	return NULL;
}

// ---- helpers --------------------------------------------------------------

static const char *arg_of(const char *step, const char *key)
{
	size_t n = strlen(key);
	if (strncmp(step, key, n) == 0 && step[n] == ':')
		return step + n + 1;
	return NULL;
}

static void sync_wait(int conn, const char *name)
{
	char p[512];
	snprintf(p, sizeof p, "%s/%s", getenv("CT_SYNC"), name);
	long end = ct_now_ms() + 15000;
	while (access(p, F_OK) != 0) {
		if (ct_now_ms() > end) {
			plog(conn, "wait %s: timed out", name);
			return;
		}
		ct_sleep_ms(2);
	}
}

static void sync_signal(const char *name)
{
	char p[512];
	snprintf(p, sizeof p, "%s/%s", getenv("CT_SYNC"), name);
	int fd = open(p, O_CREAT | O_WRONLY, 0644);
	if (fd >= 0)
		close(fd);
}

static void fmt_data(char *out, size_t outn, const unsigned char *p, long n, uint32_t sum)
{
	int printable = n > 0 && n <= 64; // p holds the first min(n, 64) bytes
	for (long i = 0; printable && i < n; i++)
		if (p[i] < 0x20 || p[i] > 0x7e)
			printable = 0;
	if (printable)
		snprintf(out, outn, "%ld bytes \"%.*s\"", n, (int)n, p);
	else
		snprintf(out, outn, "%ld bytes sum %08x", n, sum);
}

static int send_pattern(int conn, int fd, long n, long chunk, int ms)
{
	static __thread char buf[65536];
	long off = 0;
	while (off < n) {
		long k = n - off;
		if (k > chunk)
			k = chunk;
		if (k > (long)sizeof buf)
			k = sizeof buf;
		ct_pattern(buf, k, off);
		ssize_t w = send(fd, buf, k, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			plog(conn, "send = -1 %s after %ld bytes", t_errname(errno), off);
			return -1;
		}
		off += w;
		if (ms && off < n)
			ct_sleep_ms(ms);
	}
	return 0;
}

// Read until `limit` bytes (-1: no limit), EOF or an error, echoing what
// arrives if asked; log "LABEL <n> bytes <text or sum>" and how it ended
// ("end EOF", "end ECONNRESET"; nothing when the limit was reached).
// Returns -1 if echoing failed (the connection is unusable).
static int read_step(int id, int fd, long limit, int echo, const char *label)
{
	static __thread unsigned char buf[65536];
	unsigned char first[64];
	long total = 0;
	uint32_t sum = CT_SUM_INIT;
	char end[48] = "";
	while (limit < 0 || total < limit) {
		long k = sizeof buf;
		if (limit >= 0 && limit - total < k)
			k = limit - total;
		ssize_t r = recv(fd, buf, k, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			snprintf(end, sizeof end, " end %s", r == 0 ? "EOF" : t_errname(errno));
			break;
		}
		if (total < (long)sizeof first)
			memcpy(first + total, buf, r < (long)sizeof first - total ? r : (long)sizeof first - total);
		total += r;
		sum = ct_sum(sum, buf, r);
		for (ssize_t off = 0; echo && off < r;) {
			ssize_t w = send(fd, buf + off, r - off, MSG_NOSIGNAL);
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				plog(id, "echo: send = -1 %s", t_errname(errno));
				return -1;
			}
			off += w;
		}
	}
	char d[160];
	fmt_data(d, sizeof d, first, total, sum);
	plog(id, "%s %s%s", label, d, end);
	return 0;
}

// ---- TCP connection scripts -----------------------------------------------

struct conn {
	int fd, id;
};

static void *conn_thread(void *arg)
{
	struct conn *c = arg;
	int fd = c->fd, id = c->id;
	for (int i = 0; i < nsteps; i++) {
		const char *s = steps[i], *a;
		if (fd < 0 && !arg_of(s, "sleep") && !arg_of(s, "wait") && !arg_of(s, "signal")) {
			plog(id, "%s: connection already closed", s);
			continue;
		}
		if (!strcmp(s, "echo") || !strcmp(s, "recvall")) {
			if (read_step(id, fd, -1, s[0] == 'e', s) < 0)
				break;
		} else if ((a = arg_of(s, "recv"))) {
			read_step(id, fd, atol(a), 0, "recv");
		} else if ((a = arg_of(s, "send"))) {
			if (send(fd, a, strlen(a), MSG_NOSIGNAL) < 0)
				plog(id, "send = -1 %s", t_errname(errno));
		} else if ((a = arg_of(s, "sendn"))) {
			send_pattern(id, fd, atol(a), 65536, 0);
		} else if ((a = arg_of(s, "trickle"))) {
			long n = 0, chunk = 1, ms = 0;
			sscanf(a, "%ld:%ld:%ld", &n, &chunk, &ms);
			send_pattern(id, fd, n, chunk, (int)ms);
		} else if (!strcmp(s, "shutwr")) {
			if (shutdown(fd, SHUT_WR) < 0)
				plog(id, "shutdown(WR) = -1 %s", t_errname(errno));
		} else if (!strcmp(s, "shutrd")) {
			if (shutdown(fd, SHUT_RD) < 0)
				plog(id, "shutdown(RD) = -1 %s", t_errname(errno));
		} else if (!strcmp(s, "close")) {
			close(fd);
			fd = -1;
		} else if (!strcmp(s, "rst")) {
			struct linger l = { 1, 0 };
			setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
			close(fd);
			fd = -1;
		} else if ((a = arg_of(s, "sleep"))) {
			ct_sleep_ms(atoi(a));
		} else if ((a = arg_of(s, "wait"))) {
			sync_wait(id, a);
		} else if ((a = arg_of(s, "signal"))) {
			sync_signal(a);
		} else if (!strcmp(s, "waitrdhup")) {
			struct pollfd p = { .fd = fd, .events = POLLRDHUP };
			int r = poll(&p, 1, 10000);
			plog(id, "waitrdhup: %s", r > 0 ? t_pollstr(p.revents) : "timeout");
		} else if ((a = arg_of(s, "rcvbuf"))) {
			ct_setint(fd, SOL_SOCKET, SO_RCVBUF, atoi(a));
		} else if ((a = arg_of(s, "sndbuf"))) {
			ct_setint(fd, SOL_SOCKET, SO_SNDBUF, atoi(a));
		} else {
			plog(id, "unknown step %s", s);
		}
	}
	if (fd >= 0)
		close(fd);
	free(c);
	pthread_mutex_lock(&mu);
	active--;
	pthread_mutex_unlock(&mu);
	return NULL;
}

static void start_conn(int fd, int id)
{
	struct conn *c = malloc(sizeof *c);
	c->fd = fd;
	c->id = id;
	pthread_t t;
	if (pthread_create(&t, NULL, conn_thread, c) != 0)
		ct_die("pthread_create");
	pthread_detach(t);
}

// Options come before the steps; rcvbuf/sndbuf there apply to the listener
// (and so to every accepted connection), later they are steps.
static int is_option(const char *s)
{
	return !strcmp(s, "noaccept") || !strcmp(s, "nowait") || arg_of(s, "backlog") ||
	       arg_of(s, "accepton") || arg_of(s, "fill") || arg_of(s, "count") ||
	       arg_of(s, "try") || arg_of(s, "after") ||
	       (!strcmp(mode, "udp") && (!strcmp(s, "any") || arg_of(s, "join"))) ||
	       ((!strcmp(mode, "igmp") || !strcmp(mode, "mld")) && arg_of(s, "join")) ||
	       (!strcmp(mode, "tcp") && (arg_of(s, "rcvbuf") || arg_of(s, "sndbuf")));
}

static int listen_on(int type, unsigned p, int backlog)
{
	int fd = psocket(type);
	ct_setint(fd, SOL_SOCKET, SO_REUSEADDR, 1);
	if (pbind(fd, p) < 0)
		ct_die("peer bind %u", p);
	if (type == SOCK_STREAM && listen(fd, backlog) < 0)
		ct_die("peer listen");
	return fd;
}

static void ready(void)
{
	const char *r = getenv("CT_READY");
	if (r) {
		int fd = open(r, O_CREAT | O_WRONLY, 0644);
		if (fd >= 0)
			close(fd);
	}
}

// The index of the interface holding PEER_IP6 (0 if none).
static unsigned peer_ifindex6(void)
{
	struct ifaddrs *all, *i;
	struct in6_addr want;
	unsigned idx = 0;
	inet_pton(AF_INET6, PEER_IP6, &want);
	if (getifaddrs(&all) < 0)
		return 0;
	for (i = all; i && !idx; i = i->ifa_next)
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET6 &&
		    !memcmp(&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr, &want, sizeof want))
			idx = if_nametoindex(i->ifa_name);
	freeifaddrs(all);
	return idx;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = ntohl(*(const uint32_t *)a), y = ntohl(*(const uint32_t *)b);
	return x < y ? -1 : x > y;
}

// Is a an address of this namespace's own (the peer's kernel's reports)?
static int own_addr6(const struct in6_addr *a)
{
	struct ifaddrs *all, *i;
	int own = 0;
	if (getifaddrs(&all) < 0)
		return 0;
	for (i = all; i && !own; i = i->ifa_next)
		own = i->ifa_addr && i->ifa_addr->sa_family == AF_INET6 &&
		      !memcmp(&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr, a, sizeof *a);
	freeifaddrs(all);
	return own;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

// The link-local address of the interface holding PEER_IP6, in *ll
// (0: none).
static int peer_linklocal6(struct sockaddr_in6 *ll)
{
	struct ifaddrs *all, *i;
	unsigned ifx = peer_ifindex6();
	memset(ll, 0, sizeof *ll);
	if (getifaddrs(&all) < 0)
		return 0;
	for (i = all; i; i = i->ifa_next)
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET6 &&
		    IN6_IS_ADDR_LINKLOCAL(&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr) &&
		    if_nametoindex(i->ifa_name) == ifx)
			*ll = *(struct sockaddr_in6 *)i->ifa_addr;
	freeifaddrs(all);
	return ll->sin6_family == AF_INET6;
}

// Wait (at most 5 s) until the link-local address has passed duplicate
// address detection (a tentative address cannot be bound): before that
// the kernel's MLD reports of a join go from ::, like the program's
// under the shim, and could not be told from them.
static void wait_linklocal6(void)
{
	long end = ct_now_ms() + 5000;
	for (;;) {
		struct sockaddr_in6 ll;
		int fd = socket(AF_INET6, SOCK_DGRAM, 0), ok = 0;
		if (fd >= 0 && peer_linklocal6(&ll))
			ok = bind(fd, (struct sockaddr *)&ll, sizeof ll) == 0;
		if (fd >= 0)
			close(fd);
		if (ok || ct_now_ms() > end)
			return;
		ct_sleep_ms(20);
	}
}

// Join each group of the comma-separated list on fd (IGMP or MLD).
static void join_list(int fd, const char *list)
{
	char buf[256];
	if (v6 && list && list[0])
		wait_linklocal6();
	snprintf(buf, sizeof buf, "%s", list ? list : "");
	for (char *sp, *g = strtok_r(buf, ",", &sp); g; g = strtok_r(NULL, ",", &sp)) {
		int r;
		if (v6) {
			struct ipv6_mreq m;
			memset(&m, 0, sizeof m);
			inet_pton(AF_INET6, g, &m.ipv6mr_multiaddr);
			m.ipv6mr_interface = peer_ifindex6();
			r = setsockopt(fd, IPPROTO_IPV6, IPV6_JOIN_GROUP, &m, sizeof m);
		} else {
			struct ip_mreq m = { 0 };
			m.imr_multiaddr.s_addr = inet_addr(g);
			m.imr_interface.s_addr = inet_addr(PEER_IP);
			r = setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof m);
		}
		if (r < 0)
			ct_die("peer join %s", g);
	}
}

// query:V/GROUP/CODE[/S1,S2...]: one IGMP (v6: MLD) query.
static void send_query(const char *arg)
{
	char buf[512];
	snprintf(buf, sizeof buf, "%s", arg);
	char *sp, *ver = strtok_r(buf, "/", &sp), *group = strtok_r(NULL, "/", &sp);
	char *code = strtok_r(NULL, "/", &sp), *srcs = strtok_r(NULL, "/", &sp);
	if (!ver || !group || !code)
		ct_die("peer query:%s", arg);
	int v = atoi(ver), c = atoi(code), n = 0;
	unsigned char m[512];
	memset(m, 0, sizeof m);
	if (!v6) {
		int fd = socket(AF_INET, SOCK_RAW, IPPROTO_IGMP);
		struct in_addr ifa = { .s_addr = inet_addr(PEER_IP) };
		unsigned char ttl = 1, loop = 0;
		if (fd < 0 || setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &ifa, sizeof ifa) < 0 ||
		    setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, 1) < 0 ||
		    setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &loop, 1) < 0)
			ct_die("peer igmp query socket");
		m[0] = 0x11;
		m[1] = v == 1 ? 0 : c;
		inet_pton(AF_INET, v == 1 ? "0.0.0.0" : group, m + 4);
		size_t len = 8;
		if (v == 3) {
			m[8] = 2;   // S 0, QRV 2
			m[9] = 125; // QQIC
			for (char *sp2, *s = srcs ? strtok_r(srcs, ",", &sp2) : NULL; s; s = strtok_r(NULL, ",", &sp2))
				inet_pton(AF_INET, s, m + 12 + 4 * n++);
			m[10] = n >> 8;
			m[11] = n;
			len = 12 + 4 * n;
		}
		uint32_t sum = 0;
		for (size_t i = 0; i < len; i += 2)
			sum += m[i] << 8 | m[i + 1];
		while (sum >> 16)
			sum = (sum & 0xffff) + (sum >> 16);
		m[2] = ~sum >> 8;
		m[3] = ~sum;
		struct sockaddr_in to = ct_addr(strcmp(group, "0.0.0.0") ? group : "224.0.0.1", 0);
		if (sendto(fd, m, len, 0, (struct sockaddr *)&to, sizeof to) < 0)
			ct_die("peer igmp query");
		close(fd);
		return;
	}
	int fd = socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6);
	unsigned ifx = peer_ifindex6();
	int hops = 1, loop = 0;
	unsigned char ra[8] = { 0, 0, 5, 2, 0, 0, 1, 0 };
	if (fd < 0 || setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &ifx, sizeof ifx) < 0 ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof hops) < 0 ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &loop, sizeof loop) < 0 ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_HOPOPTS, ra, sizeof ra) < 0)
		ct_die("peer mld query socket");
	// From the link-local address (the one Linux would pick for ff02::1;
	// a wider group would get the global one, and a host reads a query
	// only from a link-local address).
	struct sockaddr_in6 ll;
	wait_linklocal6();
	if (!peer_linklocal6(&ll) || bind(fd, (struct sockaddr *)&ll, sizeof ll) < 0)
		ct_die("peer mld query: no link-local address");
	m[0] = 130;
	m[4] = c >> 8;
	m[5] = c;
	inet_pton(AF_INET6, group, m + 8);
	size_t len = 24;
	if (v == 2) {
		m[24] = 2;
		m[25] = 125;
		for (char *sp2, *s = srcs ? strtok_r(srcs, ",", &sp2) : NULL; s; s = strtok_r(NULL, ",", &sp2))
			inet_pton(AF_INET6, s, m + 28 + 16 * n++);
		m[26] = n >> 8;
		m[27] = n;
		len = 28 + 16 * n;
	}
	struct sockaddr_in6 to = ct_addr6(strcmp(group, "::") ? group : "ff02::1", 0);
	to.sin6_scope_id = ifx;
	if (sendto(fd, m, len, 0, (struct sockaddr *)&to, sizeof to) < 0)
		ct_die("peer mld query");
	close(fd);
}

// The raw socket of the igmp and mld modes.
static int mode_fd = -1;

// The steps of the igmp and mld modes.
static void *query_steps(void *arg)
{
	(void)arg;
	for (int i = 0; i < nsteps; i++) {
		const char *a;
		if ((a = arg_of(steps[i], "wait")))
			sync_wait(0, a);
		else if ((a = arg_of(steps[i], "sleep")))
			ct_sleep_ms(atoi(a));
		else if ((a = arg_of(steps[i], "signal")))
			sync_signal(a);
		else if ((a = arg_of(steps[i], "query")))
			send_query(a);
		else if ((a = arg_of(steps[i], "join")))
			join_list(mode_fd, a);
	}
	return NULL;
}

static void start_query_steps(void)
{
	pthread_t t;
	if (nsteps > 0)
		pthread_create(&t, NULL, query_steps, NULL);
}

// peer igmp: log each IGMP message from another host (see the top).
static void igmp_mode(const char *join)
{
	static const char *const kinds[] = { "?", "IS_IN", "IS_EX", "TO_IN", "TO_EX", "ALLOW", "BLOCK" };
	int fd = socket(AF_INET, SOCK_RAW, IPPROTO_IGMP);
	if (fd < 0)
		ct_die("peer raw igmp");
	struct ip_mreq m = { 0 };
	m.imr_multiaddr.s_addr = inet_addr("224.0.0.22");
	m.imr_interface.s_addr = inet_addr(PEER_IP);
	if (setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof m) < 0)
		ct_die("peer join 224.0.0.22");
	join_list(fd, join);
	mode_fd = fd;
	ready();
	start_query_steps();
	pthread_mutex_lock(&mu);
	main_busy = 0;
	pthread_mutex_unlock(&mu);
	static unsigned char b[65536];
	for (int n = 0;;) {
		struct sockaddr_in from;
		socklen_t fl = sizeof from;
		ssize_t r = recvfrom(fd, b, sizeof b, 0, (struct sockaddr *)&from, &fl);
		if (r < 20 || from.sin_addr.s_addr == inet_addr(PEER_IP))
			continue;
		size_t hl = (b[0] & 15) * 4, at = hl + 8;
		if ((size_t)r < at)
			continue;
		int ra = 0;
		for (size_t o = 20; o + 1 < hl && b[o] != 0;)
			if (b[o] == 1) {
				o++;
			} else {
				ra |= b[o] == 0x94;
				o += b[o + 1] ? b[o + 1] : 1;
			}
		char line[512], dst[16];
#define LINE_ADD(...)                                                              \
	do {                                                                       \
		if (k < (int)sizeof line - 1)                                      \
			k += snprintf(line + k, sizeof line - k, __VA_ARGS__);     \
		if (k > (int)sizeof line - 1)                                      \
			k = sizeof line - 1;                                       \
	} while (0)
		inet_ntop(AF_INET, b + 16, dst, sizeof dst);
		int k = snprintf(line, sizeof line, "igmp type 0x%02x to %s ttl %d tos 0x%02x ra %s:",
				 b[hl], dst, b[8], b[1], ra ? "yes" : "no");
		int nrec = b[hl] == 0x22 ? (b[hl + 6] << 8 | b[hl + 7]) : 0;
		if (b[hl] != 0x22) {
			char g[16];
			inet_ntop(AF_INET, b + hl + 4, g, sizeof g);
			LINE_ADD(" group %s", g);
		}
		static char recs[64][160];
		char *sorted[64];
		int nr = 0;
		for (int i = 0; i < nrec && nr < 64 && at + 8 <= (size_t)r; i++) {
			int ns = b[at + 2] << 8 | b[at + 3];
			size_t end = at + 8 + 4 * ns + 4 * b[at + 1];
			if (end > (size_t)r)
				break;
			char g[16], sa[16];
			inet_ntop(AF_INET, b + at + 4, g, sizeof g);
			int q = snprintf(recs[nr], sizeof recs[nr], " %s %s {", b[at] <= 6 ? kinds[b[at]] : "?", g);
			qsort(b + at + 8, ns, 4, cmp_u32);
			for (int j = 0; j < ns && q < (int)sizeof recs[nr] - 20; j++) {
				inet_ntop(AF_INET, b + at + 8 + 4 * j, sa, sizeof sa);
				q += snprintf(recs[nr] + q, sizeof recs[nr] - q, "%s%s", j ? " " : "", sa);
			}
			snprintf(recs[nr] + q, sizeof recs[nr] - q, "}");
			sorted[nr] = recs[nr];
			nr++;
			at = end;
		}
		// A general query's answer lists its groups in the kernel's
		// order: sorted here.
		qsort(sorted, nr, sizeof sorted[0], cmp_str);
		for (int i = 0; i < nr; i++)
			LINE_ADD("%s", sorted[i]);
#undef LINE_ADD
		plog(0, "%s", line);
		char name[32];
		snprintf(name, sizeof name, "igmp%d", ++n);
		sync_signal(name);
	}
}

// peer mld: log each new MLDv2 record of a group wider than link-local
// scope (see the top).
static void mld_mode(const char *join)
{
	static const char *const kinds[] = { "?", "IS_IN", "IS_EX", "TO_IN", "TO_EX", "ALLOW", "BLOCK" };
	int fd = socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6);
	if (fd < 0)
		ct_die("peer raw icmpv6");
	struct ipv6_mreq m;
	memset(&m, 0, sizeof m);
	inet_pton(AF_INET6, "ff02::16", &m.ipv6mr_multiaddr);
	m.ipv6mr_interface = peer_ifindex6();
	if (setsockopt(fd, IPPROTO_IPV6, IPV6_JOIN_GROUP, &m, sizeof m) < 0)
		ct_die("peer join ff02::16");
	join_list(fd, join);
	mode_fd = fd;
	ready();
	start_query_steps();
	pthread_mutex_lock(&mu);
	main_busy = 0;
	pthread_mutex_unlock(&mu);
	// Each group's last record, to log only changes.
	static struct {
		unsigned char group[16];
		char rec[200];
	} last[32];
	int nlast = 0, n = 0;
	static unsigned char b[65536];
	for (;;) {
		struct sockaddr_in6 from;
		socklen_t fl = sizeof from;
		ssize_t r = recvfrom(fd, b, sizeof b, 0, (struct sockaddr *)&from, &fl);
		if (r < 0 || own_addr6(&from.sin6_addr))
			continue;
		int v1 = r >= 24 && (b[0] == 131 || b[0] == 132);
		if (!v1 && (r < 8 || b[0] != 143))
			continue;
		size_t at = 8;
		int nrec = v1 ? 1 : b[6] << 8 | b[7];
		for (int i = 0; i < nrec && at + (v1 ? 16 : 20) <= (size_t)r; i++) {
			int ns = v1 ? 0 : b[at + 2] << 8 | b[at + 3];
			size_t end = v1 ? at + 16 : at + 20 + 16 * ns + 4 * b[at + 1];
			if (end > (size_t)r)
				break;
			const unsigned char *ga = v1 ? b + at : b + at + 4;
			int scope = ga[1] & 15;
			char rec[200], g[64], sa[64];
			inet_ntop(AF_INET6, ga, g, sizeof g);
			const char *kind = v1 ? (b[0] == 131 ? "V1_REPORT" : "V1_DONE") : b[at] <= 6 ? kinds[b[at]] : "?";
			int k = snprintf(rec, sizeof rec, "%s %s {", kind, g);
			for (int j = 0; j < ns && k < (int)sizeof rec - 60; j++) {
				inet_ntop(AF_INET6, b + at + 20 + 16 * j, sa, sizeof sa);
				k += snprintf(rec + k, sizeof rec - k, "%s%s", j ? " " : "", sa);
			}
			snprintf(rec + k, sizeof rec - k, "}");
			int x = 0;
			while (x < nlast && memcmp(last[x].group, ga, 16))
				x++;
			if (scope > 2 && x < 32 && (x == nlast || strcmp(last[x].rec, rec))) {
				if (x == nlast)
					memcpy(last[nlast++].group, ga, 16);
				snprintf(last[x].rec, sizeof last[x].rec, "%s", rec);
				plog(0, "mld record: %s", rec);
				char name[32];
				snprintf(name, sizeof name, "mld%d", ++n);
				sync_signal(name);
			}
			at = end;
		}
	}
}

int main(int argc, char **argv)
{
	if (argc < 3 || !getenv("CT_SYNC")) {
		fprintf(stderr, "usage: CT_SYNC=dir peer tcp|udp|connect|igmp|mld PORT [options] [steps]\n");
		return 2;
	}
	// The runner is our parent (ip netns exec and env exec us): if it dies,
	// even by SIGKILL, so do we, instead of lingering in a namespace.
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IONBF, 0);
	v6 = getenv("CT_V6") && !strcmp(getenv("CT_V6"), "1");
	mode = argv[1];
	port = atoi(argv[2]);

	int backlog = 128, noaccept = 0, fill = 0, count = 1, try_ms = 0, rcvbuf = 0, sndbuf = 0;
	const char *accepton = NULL, *after = "listening", *join = NULL;
	int udp_any = 0;
	int i = 3;
	for (; i < argc && is_option(argv[i]); i++) {
		const char *s = argv[i], *a;
		if (!strcmp(s, "noaccept"))
			noaccept = 1;
		else if (!strcmp(s, "nowait"))
			after = NULL;
		else if ((a = arg_of(s, "backlog")))
			backlog = atoi(a);
		else if ((a = arg_of(s, "accepton")))
			accepton = a;
		else if ((a = arg_of(s, "fill")))
			fill = atoi(a);
		else if ((a = arg_of(s, "count")))
			count = atoi(a);
		else if ((a = arg_of(s, "try")))
			try_ms = atoi(a);
		else if ((a = arg_of(s, "after")))
			after = a;
		else if (!strcmp(s, "any"))
			udp_any = 1;
		else if ((a = arg_of(s, "join")))
			join = a;
		else if ((a = arg_of(s, "rcvbuf")))
			rcvbuf = atoi(a);
		else if ((a = arg_of(s, "sndbuf")))
			sndbuf = atoi(a);
	}
	steps = argv + i;
	nsteps = argc - i;

	int rfd = listen_on(SOCK_STREAM, port + 1, 16);
	pthread_t rt;
	pthread_create(&rt, NULL, report_thread, (void *)(long)rfd);

	if (!strcmp(mode, "igmp"))
		igmp_mode(join);
	if (!strcmp(mode, "mld"))
		mld_mode(join);

	if (!strcmp(mode, "tcp")) {
		int lfd = psocket(SOCK_STREAM);
		ct_setint(lfd, SOL_SOCKET, SO_REUSEADDR, 1);
		if (rcvbuf)
			ct_setint(lfd, SOL_SOCKET, SO_RCVBUF, rcvbuf);
		if (sndbuf)
			ct_setint(lfd, SOL_SOCKET, SO_SNDBUF, sndbuf);
		if (pbind(lfd, port) < 0)
			ct_die("peer bind %u", port);
		if (listen(lfd, backlog) < 0)
			ct_die("peer listen");
		for (int k = 0; k < fill; k++)
			ct_connect(port); // kept open for the life of the peer
		pthread_mutex_lock(&mu);
		listen_fd = lfd;
		pthread_mutex_unlock(&mu);
		ready();
		if (noaccept) {
			pthread_mutex_lock(&mu);
			main_busy = 0;
			pthread_mutex_unlock(&mu);
			for (;;)
				pause();
		}
		if (accepton) {
			pthread_mutex_lock(&mu);
			main_busy = 0;
			pthread_mutex_unlock(&mu);
			sync_wait(0, accepton);
		}
		pthread_mutex_lock(&mu);
		main_busy = 0;
		accepting = 1;
		pthread_mutex_unlock(&mu);
		for (int id = 1;; id++) {
			struct sockaddr_storage from;
			socklen_t fl = sizeof from;
			int c = accept(lfd, (struct sockaddr *)&from, &fl);
			if (c < 0) {
				if (errno == EINTR)
					continue;
				plog(0, "accept = -1 %s", t_errname(errno));
				ct_sleep_ms(50);
				id--;
				continue;
			}
			pthread_mutex_lock(&mu);
			active++;
			pthread_mutex_unlock(&mu);
			plog(id, "accepted from %s", t_addrstr((struct sockaddr *)&from, fl));
			start_conn(c, id);
		}
	} else if (!strcmp(mode, "connect")) {
		ready();
		if (after)
			sync_wait(0, after);
		struct sockaddr_storage a;
		socklen_t alen = self_addr(port, &a);
		int fds[256];
		if (count > 256)
			count = 256;
		for (int k = 0; k < count; k++) {
			int fd = psocket(SOCK_STREAM);
			fds[k] = -1;
			if (try_ms)
				ct_set_nonblock(fd, 1);
			int r = connect(fd, (struct sockaddr *)&a, alen);
			if (r < 0 && errno == EINPROGRESS) {
				struct pollfd p = { .fd = fd, .events = POLLOUT };
				if (poll(&p, 1, try_ms) == 0) {
					plog(k + 1, "connect: timeout");
					close(fd);
					continue;
				}
				int err = 0;
				socklen_t l = sizeof err;
				getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l);
				r = err ? -1 : 0;
				errno = err;
			}
			if (r < 0) {
				plog(k + 1, "connect = -1 %s", t_errname(errno));
				close(fd);
				continue;
			}
			if (try_ms)
				ct_set_nonblock(fd, 0);
			plog(k + 1, "connect = 0");
			fds[k] = fd;
		}
		for (int k = 0; k < count; k++) {
			if (fds[k] < 0)
				continue;
			pthread_mutex_lock(&mu);
			active++;
			pthread_mutex_unlock(&mu);
			start_conn(fds[k], k + 1);
		}
		pthread_mutex_lock(&mu);
		main_busy = 0;
		pthread_mutex_unlock(&mu);
		for (;;)
			pause();
	} else if (!strcmp(mode, "udp")) {
		int fd;
		if (udp_any) {
			fd = ct_socket(SOCK_DGRAM);
			ct_setint(fd, SOL_SOCKET, SO_REUSEADDR, 1);
			struct sockaddr_in a = ct_addr("0.0.0.0", port);
			if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0)
				ct_die("peer bind any %u", port);
		} else {
			fd = listen_on(SOCK_DGRAM, port, 0);
		}
		if (join && v6) {
			struct ipv6_mreq m6;
			memset(&m6, 0, sizeof m6);
			inet_pton(AF_INET6, join, &m6.ipv6mr_multiaddr);
			m6.ipv6mr_interface = peer_ifindex6();
			if (setsockopt(fd, IPPROTO_IPV6, IPV6_JOIN_GROUP, &m6, sizeof m6) < 0)
				ct_die("peer join %s", join);
			ct_setint(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, (int)m6.ipv6mr_interface);
		} else if (join) {
			struct ip_mreq m = { 0 };
			m.imr_multiaddr.s_addr = inet_addr(join);
			m.imr_interface.s_addr = inet_addr(PEER_IP);
			if (setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof m) < 0)
				ct_die("peer join %s", join);
		}
		ready();
		pthread_mutex_lock(&mu);
		main_busy = 0;
		pthread_mutex_unlock(&mu);
		static unsigned char buf[65536];
		for (int k = 0; k < nsteps; k++) {
			const char *s = steps[k], *a;
			if (!strcmp(s, "echo") || !strcmp(s, "sink") || !strcmp(s, "recv")) {
				pthread_mutex_lock(&mu);
				udp_reading = fd;
				pthread_mutex_unlock(&mu);
				do {
					struct sockaddr_storage from;
					socklen_t fl = sizeof from;
					// Wait with a peek: the datagram stays queued (the
					// report sees it) until main_busy says it is being
					// handled.
					char one;
					ssize_t r = recv(fd, &one, 1, MSG_PEEK);
					if (r >= 0) {
						pthread_mutex_lock(&mu);
						main_busy = 1;
						pthread_mutex_unlock(&mu);
						r = recvfrom(fd, buf, sizeof buf, 0,
							     (struct sockaddr *)&from, &fl);
					}
					if (r < 0) {
						plog(0, "recvfrom = -1 %s", t_errname(errno));
						continue;
					}
					char d[160];
					fmt_data(d, sizeof d, buf, r, ct_sum(CT_SUM_INIT, buf, r));
					plog(0, "dgram from %s: %s",
					     t_addrstr((struct sockaddr *)&from, fl), d);
					if (s[0] == 'e' &&
					    sendto(fd, buf, r, 0, (struct sockaddr *)&from, fl) < 0)
						plog(0, "sendto = -1 %s", t_errname(errno));
					pthread_mutex_lock(&mu);
					main_busy = 0;
					pthread_mutex_unlock(&mu);
				} while (s[0] != 'r');
				pthread_mutex_lock(&mu);
				udp_reading = -1;
				pthread_mutex_unlock(&mu);
			} else if ((a = arg_of(s, "sendto")) || (a = arg_of(s, "sendton")) ||
				   (a = arg_of(s, "sendgrp"))) {
				unsigned to = atoi(a);
				const char *text = strchr(a, ':');
				text = text ? text + 1 : "";
				struct sockaddr_storage dst;
				socklen_t dlen = self_addr(to, &dst);
				if (s[4] == 'g' && join && v6) {
					inet_pton(AF_INET6, join, &((struct sockaddr_in6 *)&dst)->sin6_addr);
				} else if (s[4] == 'g' && join) {
					inet_pton(AF_INET, join, &((struct sockaddr_in *)&dst)->sin_addr);
				}
				long n = strlen(text);
				if (s[6] == 'n') {
					n = atol(text);
					ct_pattern(buf, n, 0);
				} else {
					memcpy(buf, text, n);
				}
				if (sendto(fd, buf, n, 0, (struct sockaddr *)&dst, dlen) < 0)
					plog(0, "sendto = -1 %s", t_errname(errno));
			} else if ((a = arg_of(s, "sleep"))) {
				ct_sleep_ms(atoi(a));
			} else if ((a = arg_of(s, "wait"))) {
				sync_wait(0, a);
			} else if ((a = arg_of(s, "signal"))) {
				sync_signal(a);
			} else {
				plog(0, "unknown step %s", s);
			}
		}
		for (;;)
			pause();
	}
	fprintf(stderr, "peer: unknown mode %s\n", mode);
	return 2;
}
