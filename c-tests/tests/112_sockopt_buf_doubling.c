// CHECKS: SO_RCVBUF / SO_SNDBUF: the kernel doubles the value set, clamps
// small values to its minimum and large ones to 2 * net.core.[rw]mem_max;
// same for UDP; negative values; the *BUFFORCE variants as root.
// PEER: none
// NORMALISED: nothing (default sysctls in both namespaces).
#include "trace.h"

static void setget(int fd, int opt, const char *name, int val)
{
	char what[64];
	snprintf(what, sizeof what, "set %s %d", name, val);
	T_CALL(what, setsockopt(fd, SOL_SOCKET, opt, &val, sizeof val));
	int got = -1;
	socklen_t l = sizeof got;
	getsockopt(fd, SOL_SOCKET, opt == SO_RCVBUFFORCE ? SO_RCVBUF : opt == SO_SNDBUFFORCE ? SO_SNDBUF : opt, &got, &l);
	t_log("  reads back %d", got);
}

int main(void)
{
	int vals[] = { 10000, 1, 0, 1024, 2304, 4608, 100000, 1 << 20, 1 << 30, -1, -100000 };
	for (int type = 0; type < 2; type++) {
		int fd = socket(AF_INET, type ? SOCK_DGRAM : SOCK_STREAM, 0);
		t_log("%s:", type ? "udp" : "tcp");
		for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
			setget(fd, SO_RCVBUF, "SO_RCVBUF", vals[i]);
			setget(fd, SO_SNDBUF, "SO_SNDBUF", vals[i]);
		}
		setget(fd, SO_RCVBUFFORCE, "SO_RCVBUFFORCE", 1 << 20);
		setget(fd, SO_SNDBUFFORCE, "SO_SNDBUFFORCE", 1 << 20);
		close(fd);
	}
	return 0;
}
