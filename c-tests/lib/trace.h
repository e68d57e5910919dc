// trace.h — shared helpers for the c-tests differential suite.
//
// A test prints a deterministic trace on stdout: one line per call with its
// return value and the errno *name*, plus the data it saw. The same binary
// runs on kernel sockets and under the shim; the two traces must be equal.
//
// Rules every helper follows:
//   - nothing that legitimately differs between runs is printed: ephemeral
//     ports print as EPHEMERAL (after checking they lie in
//     /proc/sys/net/ipv4/ip_local_port_range), times print only as a
//     comparison against a bound, byte counts that depend on buffer
//     autotuning print only as a comparison;
//   - setup steps that are not the point of a test use the ct_* helpers,
//     which print nothing on success and exit(3) with a "SETUP FAILED" line
//     on failure, so a broken setup never looks like a pass.
//
// Topology (fixed): the program under test is 10.7.0.2 (SELF_IP); the peer
// is 10.7.0.1 (PEER_IP), on kernel sockets, started by the runner from the
// test's `// PEER:` lines. A peer's report port is its port + 1.
#ifndef CT_TRACE_H
#define CT_TRACE_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <linux/sockios.h>
#include <time.h>
#include <unistd.h>

#define PEER_IP "10.7.0.1"
#define SELF_IP "10.7.0.2"
// IPv6 addresses of the two sides, for tests marked `// IPV6: yes` (the
// runner then leaves IPv6 on and gives the links these addresses).
#define PEER_IP6 "fd00:7::1"
#define SELF_IP6 "fd00:7::2"

// ---- tracing --------------------------------------------------------------

// Name of an errno value ("ECONNREFUSED"), or "E#<n>" if unknown.
const char *t_errname(int e);

// Print "what = rc" or "what = -1 ENAME"; returns rc with errno preserved.
long t_ret(const char *what, long rc, int err);

// Run expr with errno cleared, print its result, yield it (errno kept).
#define T_CALL(what, expr)                                                    \
	({                                                                    \
		errno = 0;                                                    \
		long _t_rc = (long)(expr);                                    \
		t_ret((what), _t_rc, errno);                                  \
	})

// Print "what = got", and "  <-- want W" when it differs.
void t_eq(const char *what, long got, long want);
#define T_EQ(what, got, want) t_eq((what), (long)(got), (long)(want))

// printf + newline.
void t_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

// Print a boolean check "what: yes" / "what: NO".
void t_check(const char *what, int ok);

// Poll revents as "POLLIN|POLLOUT" (or "0").
const char *t_pollstr(int revents);
void t_revents(const char *what, int revents);

// "10.7.0.2:EPHEMERAL" or "[fd00:7::2]:EPHEMERAL" style text of an
// address (port normalised; an IPv6 scope id or flow label is printed
// when not 0).
const char *t_addrstr(const struct sockaddr *sa, socklen_t len);
// getsockname/getpeername, printed as "what = 0 10.7.0.1:20420" or error.
void t_sockname(const char *what, int fd);
void t_peername(const char *what, int fd);

// Port text: EPHEMERAL if inside ip_local_port_range, else the number.
const char *t_portstr(unsigned port);
int t_is_ephemeral(unsigned port);

// Print a buffer as text if printable ("data = \"hello\""), else length+sum.
void t_data(const char *what, const void *buf, long n);

// Names of signals / fcntl flags for traces.
const char *t_signame(int sig);

// ---- setup helpers (silent on success, exit(3) on failure) ----------------

void ct_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

struct sockaddr_in ct_addr(const char *ip, unsigned port);
struct sockaddr_in6 ct_addr6(const char *ip, unsigned port);
int ct_socket(int type);                 // AF_INET socket or die
int ct_connect(unsigned port);           // TCP connected to PEER_IP:port
int ct_listen(unsigned port, int backlog); // TCP listening on SELF_IP:port
int ct_udp(unsigned bind_port);          // UDP socket bound to SELF_IP:port (0 = unbound)
int ct_accept(int lfd);                  // blocking accept or die
void ct_set_nonblock(int fd, int on);
void ct_setint(int fd, int level, int opt, int val);
int ct_getint(int fd, int level, int opt);

// Send/receive exactly n bytes (blocking), or die.
void ct_send_all(int fd, const void *buf, size_t n);
void ct_recv_all(int fd, void *buf, size_t n);

// Wait until at least n bytes are queued for reading (FIONREAD), up to ms;
// returns the number queued (may be < n on timeout).
int ct_wait_bytes(int fd, int n, int ms);
// poll(fd, events) until any of `want` shows in revents, up to ms; returns
// the last revents (0 on timeout).
int ct_wait_event(int fd, short events, short want, int ms);

// Fill the send path of a connected TCP socket until no more data fits,
// even after waiting for in-flight data to settle. Returns bytes written.
// Only deterministic with fixed buffers on both ends (autotuning can open
// room later): connect with ct_connect_small() to a peer with rcvbuf:32768.
long ct_fill(int fd);
// TCP connected to PEER_IP:port with SO_SNDBUF 32768 set before connecting.
int ct_connect_small(unsigned port);

// Deterministic data pattern and checksum (FNV-1a 32).
void ct_pattern(void *buf, size_t n, uint64_t offset);
uint32_t ct_sum(uint32_t h, const void *buf, size_t n);
#define CT_SUM_INIT 2166136261u

// An invalid user pointer ((void *)1) the compiler cannot see through, for
// EFAULT tests.
void *ct_bad_ptr(void);

// Milliseconds / microseconds on CLOCK_MONOTONIC.
long ct_now_ms(void);
long long ct_now_us(void);
// Print "what: returned after >= MS ms: yes" for a call that started at
// start_us (ct_now_us) and must have waited at least ms. One kernel tick
// (10 ms, the longest at HZ=100) is allowed: Linux counts socket timeouts in
// jiffies, and a timeout armed part-way through a tick can end that much
// early on the wall clock (seen: 095's kernel half, once in 20 runs).
void t_waited(const char *what, long long start_us, int ms);
void ct_sleep_ms(int ms);

// Install a signal handler with the given sa_flags (e.g. 0 or SA_RESTART).
void ct_sigaction(int sig, void (*fn)(int), int flags);
// Arm ITIMER_REAL for ms (one shot).
void ct_alarm_ms(int ms);

// ---- passing descriptors --------------------------------------------------

// Send fd over the unix socket `via` with SCM_RIGHTS (one data byte), or die.
void ct_send_fd(int via, int fd);
// Receive one descriptor sent by ct_send_fd on `via`, or die.
int ct_recv_fd(int via);

// Wait up to ms for a datagram on fd. None: print "what: nothing". Else
// recvfrom it (MSG_DONTWAIT, 64 bytes at most) and print the call, the
// data and the sender.
void t_recvfrom(const char *what, int fd, int ms);

// ---- more than one process (procs.c) ----------------------------------------

// fflush(stdout), then fork (or die): the child's pid, 0 in the child.
pid_t ct_fork(void);
// pipe2(go, O_CLOEXEC) or die: the parent's "go" to a child.
void ct_go_pipe(int go[2]);
// In the child: wait for the parent's ct_go on rd (_exit(1) if it is gone).
void ct_wait_go(int rd);
// In the parent: fflush(stdout), then the go byte on wr.
void ct_go(int wr);
// waitpid, then print "child exited: N" (-1 if it did not exit normally).
void ct_wait_child(pid_t pid);
// Exec this program again as `argv0 exec FD`; never returns (_exit(127)).
void ct_exec_self(const char *argv0, int fd) __attribute__((noreturn));
// The FD given by ct_exec_self in an image it started, else -1.
int ct_exec_arg(int argc, char **argv);
// Wait up to 3 s for n bytes on a connection, recv them (64 at most) and
// print "who: recv", "who: data" and "who: getpeername"; returns recv's.
long t_recv_shown(const char *who, int fd, int n);
// Send msg to an echo peer ("who: send"), then t_recv_shown the echo.
void t_echo(const char *who, int fd, const char *msg);
// A thread about to block: it notes its thread id in *slot (set to 0 by
// the caller first) just before its blocking call. ct_wait_blocked waits
// until it has, then settle_ms, then until that thread sleeps (up to
// 10 s): a fixed wait alone was not enough under load, and a close made
// before the thread's call began rightly gives that call EBADF.
void ct_note_thread(int *slot);
void ct_wait_blocked(int *slot, int settle_ms);

// ---- int socket options as a table (sockopt.c) ------------------------------

// Print "what = V" (" len L" if not an int's), or "what = -1 ENAME".
void t_getint(const char *what, int fd, int level, int name);
// setsockopt of int v, printed as T_CALL(what).
void t_setint(const char *what, int fd, int level, int name, int v);
// One row of a script: a get (set 0) or a set of value.
struct ct_opt {
	int set;
	const char *what;
	int level, name, value;
};
#define CT_GET(what, level, name) { 0, (what), (level), (name), 0 }
#define CT_SET(what, level, name, v) { 1, (what), (level), (name), (v) }
// Run the rows on fd, in order.
void t_opts(int fd, const struct ct_opt *rows, size_t n);
#define T_OPTS(fd, rows) t_opts((fd), (rows), sizeof(rows) / sizeof(rows)[0])

// ---- control messages ----------------------------------------------------

// Print every control message of a received msghdr, in order, one line
// each: "  cmsg NAME len N: value" for the kinds the tests read
// (SO_TIMESTAMP/NS as "within 5 s of now", IP_PKTINFO, IP_TTL, IP_TOS,
// IP_ORIGDSTADDR, IPV6_PKTINFO, IPV6_HOPLIMIT, IPV6_TCLASS,
// IPV6_ORIGDSTADDR, TCP_CM_INQ; interface indexes as lo, device (cta or
// sockshim0) or other), else level, type and length. A record cut by a
// short buffer (MSG_CTRUNC) is read only as far as the buffer goes.
void t_cmsgs(struct msghdr *m);
// Wait up to 5 s for a datagram on fd, then recvmsg (MSG_DONTWAIT) it with
// a control buffer of `room` bytes (0: none, at most 512); print the call,
// the data, the sender, MSG_CTRUNC and msg_controllen, then t_cmsgs.
void t_recvmsg_cmsgs(const char *what, int fd, size_t room);

// ---- synchronisation with the peer (files in $CT_SYNC) --------------------

// Create $CT_SYNC/name. The peer's `wait:name` step waits for it.
void ct_signal(const char *name);
// Wait for $CT_SYNC/name (created by the peer's `signal:name`); dies after ms.
void ct_wait(const char *name, int ms);

// Connect to the peer's report port (port + 1), print every line of its
// report prefixed with "peer: ". The peer answers once all connections it
// accepted/made have finished their script (or after 3 s).
void ct_peer_report(unsigned port);

// ---- multicast (mcast.c) ---------------------------------------------------

// A UDP socket bound to FROM:0 that sends multicast by lo (IP_MULTICAST_IF
// 127.0.0.1), or die.
int ct_mcast_sender(const char *from);
// setsockopt(s, IPPROTO_IP, opt) of an ip_mreq (group, interface address)
// or of an ip_mreq_source on SELF_IP, printed as `what`.
int t_mreq(int s, int opt, const char *group, const char *iface, const char *what);
int t_mreq_source(int s, int opt, const char *group, const char *source, const char *what);
// An AF_INET6 UDP socket bound to [::]:port with SO_REUSEADDR.
int ct_bound6(unsigned port);
// Create the sync file `q` for the peer (none if ""), then wait until the
// peer has counted n more messages of `kind` ($CT_SYNC/<kind>N, N the
// running total; peer modes igmp and mld).
void ct_mcast_step(const char *kind, const char *q, int n);

#endif
