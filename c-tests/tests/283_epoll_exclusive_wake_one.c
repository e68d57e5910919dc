// CHECKS: EPOLLEXCLUSIVE wakes one waiter: four children, each with its own
// epoll set holding the inherited listener with EPOLLIN|EPOLLEXCLUSIVE, all
// asleep in epoll_wait; one connection wakes exactly one of them (the others
// time out). The same without EPOLLEXCLUSIVE wakes all four. Nobody accepts
// until the end, so a woken child always finds the listener ready. Also the
// flag's EINVAL cases (with EPOLLONESHOT or EPOLLRDHUP, in a MOD, a MOD of
// an exclusive entry).
// PEER: connect 22835 count:1 after:one recvall
// PEER: connect 22837 count:1 after:two recvall
// NORMALISED: which child wakes is not printed, only how many.
#include "trace.h"
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#define P 22830
#define KIDS 4

// Is `pid` asleep in an epoll wait (its /proc syscall line names one)?
static int in_epoll_wait(pid_t pid)
{
	char path[64], line[128];
	snprintf(path, sizeof path, "/proc/%d/syscall", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	int nr = -1;
	if (fgets(line, sizeof line, f))
		nr = atoi(line);
	fclose(f);
	return nr == SYS_epoll_wait || nr == SYS_epoll_pwait || nr == SYS_epoll_pwait2;
}

// One round: KIDS children wait on lfd with `events`; the peer connects
// once (after sync file `go`); print how many woke with EPOLLIN.
static void round_of(const char *label, int lfd, uint32_t events, const char *go)
{
	int pfd[2];
	if (pipe(pfd) < 0)
		ct_die("pipe");
	pid_t kids[KIDS];
	for (int k = 0; k < KIDS; k++) {
		kids[k] = fork();
		if (kids[k] == 0) {
			close(pfd[0]);
			int ep = epoll_create1(0);
			struct epoll_event ev = { .events = events, .data.u32 = 1 };
			if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0)
				_exit(3);
			struct epoll_event out[2];
			int n = epoll_wait(ep, out, 2, 1500);
			char r = n == 1 && (out[0].events & EPOLLIN) ? 'w' : n == 0 ? 't' : 'e';
			if (write(pfd[1], &r, 1) != 1)
				_exit(2);
			_exit(0);
		}
	}
	close(pfd[1]);
	// Every child asleep in its wait before the connection comes.
	for (int tries = 0; tries < 500; tries++) {
		int asleep = 0;
		for (int k = 0; k < KIDS; k++)
			asleep += in_epoll_wait(kids[k]);
		if (asleep == KIDS)
			break;
		usleep(10000);
	}
	usleep(50000);
	fflush(stdout);
	ct_signal(go);
	int woken = 0, timed_out = 0, other = 0;
	char c;
	for (int k = 0; k < KIDS && read(pfd[0], &c, 1) == 1; k++) {
		woken += c == 'w';
		timed_out += c == 't';
		other += c != 'w' && c != 't';
	}
	close(pfd[0]);
	for (int k = 0; k < KIDS; k++)
		waitpid(kids[k], NULL, 0);
	t_log("%s: woken %d, timed out %d, other %d", label, woken, timed_out, other);
	int c2 = T_CALL("accept the connection", accept(lfd, NULL, NULL));
	if (c2 >= 0) {
		ct_send_all(c2, "ok", 2);
		close(c2);
	}
}

int main(void)
{
	int ep = epoll_create1(0);
	int lfd = ct_listen(P + 5, 16);
	struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE | EPOLLONESHOT };
	T_CALL("ADD exclusive|oneshot", epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev));
	ev.events = EPOLLIN | EPOLLEXCLUSIVE | EPOLLRDHUP;
	T_CALL("ADD exclusive|rdhup", epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev));
	ev.events = EPOLLIN | EPOLLEXCLUSIVE;
	T_CALL("MOD exclusive, not registered", epoll_ctl(ep, EPOLL_CTL_MOD, lfd, &ev));
	T_CALL("ADD exclusive", epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev));
	ev.events = EPOLLIN;
	T_CALL("MOD an exclusive entry", epoll_ctl(ep, EPOLL_CTL_MOD, lfd, &ev));
	T_CALL("DEL", epoll_ctl(ep, EPOLL_CTL_DEL, lfd, NULL));
	close(ep);
	int lfd2 = ct_listen(P + 7, 16);

	round_of("EPOLLEXCLUSIVE", lfd, EPOLLIN | EPOLLEXCLUSIVE, "one");
	round_of("no EPOLLEXCLUSIVE", lfd2, EPOLLIN, "two");
	close(lfd);
	close(lfd2);
	ct_peer_report(P + 5);
	ct_peer_report(P + 7);
	return 0;
}
