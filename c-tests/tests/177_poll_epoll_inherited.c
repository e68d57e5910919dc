// CHECKS: poll and epoll on an inherited socket in parent and child: the
// child waits in epoll_wait and poll for data on the socket it inherited,
// reads it, exits; then the parent waits with poll and epoll for the next.
// PEER: tcp 21770 wait:child send:one wait:parent send:two recvall
// NORMALISED: nothing.
#include "trace.h"
#include <sys/epoll.h>
#include <sys/wait.h>

#define P 21770

static void wait_and_read(const char *who, int fd, const char *sig)
{
	char what[64], buf[16];
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = 7 };
	epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
	ct_signal(sig);
	struct epoll_event out[2];
	snprintf(what, sizeof what, "%s: epoll_wait", who);
	T_CALL(what, epoll_wait(ep, out, 2, 5000));
	t_log("%s: events %s data %u", who, t_pollstr(out[0].events), out[0].data.u32);
	struct pollfd p = { .fd = fd, .events = POLLIN };
	snprintf(what, sizeof what, "%s: poll", who);
	T_CALL(what, poll(&p, 1, 5000));
	snprintf(what, sizeof what, "%s: revents", who);
	t_revents(what, p.revents);
	ct_wait_bytes(fd, 3, 5000);
	snprintf(what, sizeof what, "%s: recv", who);
	long n = T_CALL(what, recv(fd, buf, sizeof buf, 0));
	snprintf(what, sizeof what, "%s: data", who);
	t_data(what, buf, n);
	close(ep);
}

int main(void)
{
	int fd = ct_connect(P);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		wait_and_read("child", fd, "child");
		fflush(stdout);
		_exit(0);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	t_log("child exited: %d", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	wait_and_read("parent", fd, "parent");
	T_CALL("close", close(fd));
	ct_peer_report(P);
	return 0;
}
