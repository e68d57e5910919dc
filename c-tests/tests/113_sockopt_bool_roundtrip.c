// CHECKS: boolean options read back as 0/1 whatever non-zero value was set
// (SO_REUSEADDR, SO_KEEPALIVE, SO_BROADCAST, SO_OOBINLINE, TCP_NODELAY,
// TCP_CORK, SO_REUSEPORT), and can be cleared again.
// PEER: none
// NORMALISED: nothing.
#include "trace.h"

static void one(int fd, int level, int opt, const char *name)
{
	int vals[] = { 1, 5, -1, 0 };
	for (int i = 0; i < 4; i++) {
		int v = vals[i], got = -7;
		socklen_t l = sizeof got;
		int rc = setsockopt(fd, level, opt, &v, sizeof v);
		int e = errno;
		getsockopt(fd, level, opt, &got, &l);
		if (rc < 0)
			t_log("%s set %d = -1 %s, reads %d", name, v, t_errname(e), got);
		else
			t_log("%s set %d = 0, reads %d", name, v, got);
	}
}

#define O(level, opt) one(fd, level, opt, #opt)

int main(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	O(SOL_SOCKET, SO_REUSEADDR);
	O(SOL_SOCKET, SO_REUSEPORT);
	O(SOL_SOCKET, SO_KEEPALIVE);
	O(SOL_SOCKET, SO_BROADCAST);
	O(SOL_SOCKET, SO_OOBINLINE);
	O(IPPROTO_TCP, TCP_NODELAY);
	O(IPPROTO_TCP, TCP_CORK);
	int u = socket(AF_INET, SOCK_DGRAM, 0);
	fd = u;
	O(SOL_SOCKET, SO_BROADCAST);
	O(SOL_SOCKET, SO_REUSEADDR);
	return 0;
}
