// CHECKS: 20 connections to the same peer port each get a distinct
// ephemeral port inside net.ipv4.ip_local_port_range; the peer sees the
// same port that getsockname reports.
// PEER: tcp 20150 wait:done
// NORMALISED: ports are only checked (in range, distinct), never printed.
#include "trace.h"

#define P 20150
#define N 20

int main(void)
{
	unsigned ports[N];
	int in_range = 0, distinct = 1;
	for (int i = 0; i < N; i++) {
		int fd = ct_connect(P);
		struct sockaddr_in a;
		socklen_t l = sizeof a;
		getsockname(fd, (struct sockaddr *)&a, &l);
		ports[i] = ntohs(a.sin_port);
		in_range += t_is_ephemeral(ports[i]);
		for (int j = 0; j < i; j++)
			if (ports[j] == ports[i])
				distinct = 0;
	}
	t_log("connections %d, ports in range %d, all distinct: %s", N, in_range, distinct ? "yes" : "NO");
	ct_signal("done");
	return 0;
}
