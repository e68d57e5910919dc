// CHECKS: SO_LINGER round trips ({1,5}, {0,7} keeps the old time, {1,0},
// l_onoff 3 reads as 1, a large l_linger), short optlen on set (EINVAL), short optlen on get (truncated).
// PEER: none
// NORMALISED: nothing.
#include "trace.h"

static void show(int fd)
{
	struct linger l = { -9, -9 };
	socklen_t len = sizeof l;
	getsockopt(fd, SOL_SOCKET, SO_LINGER, &l, &len);
	t_log("  reads {%d, %d} len %u", l.l_onoff, l.l_linger, (unsigned)len);
}

int main(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct linger cases[] = { { 1, 5 }, { 0, 7 }, { 1, 0 }, { 3, 100000 } };
	for (int i = 0; i < 4; i++) {
		char what[64];
		snprintf(what, sizeof what, "set {%d, %d}", cases[i].l_onoff, cases[i].l_linger);
		T_CALL(what, setsockopt(fd, SOL_SOCKET, SO_LINGER, &cases[i], sizeof cases[i]));
		show(fd);
	}
	struct linger l = { 1, 2 };
	T_CALL("set optlen 4", setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, 4));
	T_CALL("set optlen 16", setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, 16));
	show(fd);
	int v[2] = { -9, -9 };
	socklen_t len = 4;
	T_CALL("get optlen 4", getsockopt(fd, SOL_SOCKET, SO_LINGER, v, &len));
	t_log("  reads %d %d len %u", v[0], v[1], (unsigned)len);
	return 0;
}
