// CHECKS: poll and select over 40 connections at once (plus a pipe): after
// data is echoed on every 7th connection, exactly those (and the readable
// pipe) are reported, by poll and by select alike.
// PEER: tcp 21380 echo
// NORMALISED: nothing.
#include "trace.h"
#include <sys/select.h>

#define P 21380
#define N 40

int main(void)
{
	int fds[N + 1];
	for (int i = 0; i < N; i++)
		fds[i] = ct_connect(P);
	int pfd[2];
	if (pipe(pfd) < 0)
		ct_die("pipe");
	fds[N] = pfd[0];
	(void)!write(pfd[1], "p", 1);
	for (int i = 0; i < N; i += 7)
		send(fds[i], "x", 1, 0);
	for (int i = 0; i < N; i += 7)
		ct_wait_bytes(fds[i], 1, 5000);
	struct pollfd p[N + 1];
	for (int i = 0; i <= N; i++)
		p[i] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
	T_CALL("poll", poll(p, N + 1, 0));
	char list[400] = "";
	for (int i = 0; i <= N; i++)
		if (p[i].revents)
			sprintf(list + strlen(list), " %d", i);
	t_log("  ready indexes:%s", list);
	fd_set r;
	FD_ZERO(&r);
	int maxfd = 0;
	for (int i = 0; i <= N; i++) {
		FD_SET(fds[i], &r);
		if (fds[i] > maxfd)
			maxfd = fds[i];
	}
	struct timeval tv = { 0, 0 };
	T_CALL("select", select(maxfd + 1, &r, NULL, NULL, &tv));
	list[0] = 0;
	for (int i = 0; i <= N; i++)
		if (FD_ISSET(fds[i], &r))
			sprintf(list + strlen(list), " %d", i);
	t_log("  ready indexes:%s", list);
	return 0;
}
