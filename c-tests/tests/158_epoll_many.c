// CHECKS: one epoll set with 40 connections: after data is echoed on every
// 5th connection, epoll_wait returns exactly those (data.u32 = index), with
// maxevents smaller than the number ready returning the rest next time.
// PEER: tcp 21580 echo
// NORMALISED: order of events is not printed (sorted indexes only).
#include "trace.h"
#include <sys/epoll.h>

#define P 21580
#define N 40

static void collect(int ep, int max, int *seen)
{
	struct epoll_event ev[N];
	int n = epoll_wait(ep, ev, max, 0);
	t_log("epoll_wait maxevents %d = %d", max, n);
	for (int i = 0; i < n; i++)
		seen[ev[i].data.u32]++;
}

int main(void)
{
	int fds[N];
	int ep = epoll_create1(0);
	for (int i = 0; i < N; i++) {
		fds[i] = ct_connect(P);
		struct epoll_event e = { .events = EPOLLIN | EPOLLET, .data.u32 = i };
		epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &e);
	}
	for (int i = 0; i < N; i += 5)
		send(fds[i], "x", 1, 0);
	for (int i = 0; i < N; i += 5)
		ct_wait_bytes(fds[i], 1, 5000);
	int seen[N] = { 0 };
	collect(ep, 3, seen);
	collect(ep, N, seen);
	collect(ep, N, seen);
	char list[400] = "";
	for (int i = 0; i < N; i++)
		if (seen[i])
			sprintf(list + strlen(list), " %d%s", i, seen[i] > 1 ? "(twice)" : "");
	t_log("reported indexes:%s", list);
	return 0;
}
