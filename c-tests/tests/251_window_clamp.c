// CHECKS: TCP_WINDOW_CLAMP as Linux's tcp_set_window_clamp: on a closed
// socket 0 clears it; any other value is raised to half of SOCK_MIN_RCVBUF
// (1152), negative ones too; on a connected socket 0 is EINVAL. Not
// printed: the clamp Linux computes for a connection (from its buffer).
// PEER: tcp 22510
// NORMALISED: nothing.
#include "trace.h"

#define P 22510

static void set(int fd, int v)
{
	char what[64];
	snprintf(what, sizeof what, "TCP_WINDOW_CLAMP %d", v);
	if (T_CALL(what, setsockopt(fd, IPPROTO_TCP, TCP_WINDOW_CLAMP, &v, sizeof v)) == 0)
		t_log("  reads %d", ct_getint(fd, IPPROTO_TCP, TCP_WINDOW_CLAMP));
}

int main(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	set(s, 100);
	set(s, -5);
	set(s, 70000);
	set(s, 0);
	int c = ct_connect(P);
	set(c, 0);
	set(c, 1000);
	set(c, 70000);
	return 0;
}
