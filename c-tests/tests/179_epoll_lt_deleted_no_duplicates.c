// CHECKS: level-triggered entries stay ready across waits and one
// epoll_wait reports each ready entry once, also after half of them were
// deleted while ready (Linux's ep_send_events re-queues reported LT items
// only after the batch).
// PEER: tcp 21790 echo
// NORMALISED: order of events is not printed (counts per index only).
#include "trace.h"
#include <sys/epoll.h>

#define P 21790
#define N 20

static void collect(int ep, const char *what)
{
	struct epoll_event ev[N * 2];
	int seen[N] = { 0 };
	int n = epoll_wait(ep, ev, N * 2, 0);
	t_log("%s: epoll_wait = %d", what, n);
	for (int i = 0; i < n; i++)
		seen[ev[i].data.u32]++;
	char list[400] = "";
	for (int i = 0; i < N; i++)
		if (seen[i])
			sprintf(list + strlen(list), " %d%s", i, seen[i] > 1 ? "(twice or more)" : "");
	t_log("%s: reported indexes:%s", what, list);
}

int main(void)
{
	int fds[N];
	int ep = epoll_create1(0);
	for (int i = 0; i < N; i++) {
		fds[i] = ct_connect(P);
		struct epoll_event e = { .events = EPOLLIN, .data.u32 = i };
		epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &e);
	}
	for (int i = 0; i < N; i++)
		send(fds[i], "x", 1, 0);
	for (int i = 0; i < N; i++)
		ct_wait_bytes(fds[i], 1, 5000);
	collect(ep, "all ready");
	collect(ep, "still ready");
	for (int i = 1; i < N; i += 2)
		t_log("EPOLL_CTL_DEL %d = %d", i, epoll_ctl(ep, EPOLL_CTL_DEL, fds[i], NULL));
	collect(ep, "odd ones deleted");
	collect(ep, "again");
	return 0;
}
