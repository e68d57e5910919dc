// CHECKS: SO_RCVTIMEO: round trip of the timeval; a blocking recv with no
// data fails with EAGAIN after at least the timeout; tv_usec >= 1000000 is
// EDOM; short optlen EINVAL; a negative tv_sec means no timeout (reads back
// as 0); timeout 0 means block forever (reads back 0).
// PEER: tcp 20900 echo
// NORMALISED: durations print only as ">= timeout: yes".
#include "trace.h"

#define P 20900

static void show(int fd)
{
	struct timeval tv = { -7, -7 };
	socklen_t l = sizeof tv;
	T_CALL("  getsockopt SO_RCVTIMEO", getsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, &l));
	t_log("    = {%ld, %ld} len %u", (long)tv.tv_sec, (long)tv.tv_usec, (unsigned)l);
}

int main(void)
{
	int fd = ct_connect(P);
	show(fd);
	struct timeval tv = { 0, 200000 };
	T_CALL("set 200 ms", setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
	show(fd);
	char c;
	long long t0 = ct_now_us();
	T_CALL("recv", recv(fd, &c, 1, 0));
	t_waited("recv", t0, 200);
	t0 = ct_now_us();
	T_CALL("read", read(fd, &c, 1));
	t_waited("read", t0, 200);
	tv.tv_sec = 0;
	tv.tv_usec = 1000000;
	T_CALL("set tv_usec 1000000", setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
	tv.tv_usec = -1;
	T_CALL("set tv_usec -1", setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
	T_CALL("set optlen 8", setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, 8));
	show(fd);
	tv.tv_sec = 2;
	tv.tv_usec = 500000;
	T_CALL("set 2.5 s", setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
	show(fd);
	tv.tv_sec = -5;
	tv.tv_usec = 0;
	T_CALL("set tv_sec -5", setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
	show(fd);
	tv.tv_sec = 0;
	T_CALL("set 0", setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
	show(fd);
	return 0;
}
