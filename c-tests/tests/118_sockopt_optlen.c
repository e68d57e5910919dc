// CHECKS: optlen handling of int options: getsockopt with optlen 2 copies 2
// bytes and reports 2 (SOL_SOCKET and IPPROTO_TCP); optlen 0; optlen 100
// (truncated to 4); negative optlen EINVAL; setsockopt with optlen 2 EINVAL,
// optlen 8 accepted; NULL optval.
// PEER: none
// NORMALISED: nothing.
#include "trace.h"

static void get(int fd, int level, int opt, const char *name, socklen_t len)
{
	unsigned char b[8];
	memset(b, 0xee, sizeof b);
	socklen_t l = len;
	char what[64];
	snprintf(what, sizeof what, "get %s optlen %d", name, (int)len);
	long rc = T_CALL(what, getsockopt(fd, level, opt, b, &l));
	if (rc == 0)
		t_log("  len %u bytes %02x %02x %02x %02x %02x", (unsigned)l, b[0], b[1], b[2], b[3], b[4]);
}

int main(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	ct_setint(fd, SOL_SOCKET, SO_RCVBUF, 0x10000);
	ct_setint(fd, IPPROTO_TCP, TCP_NODELAY, 1);
	get(fd, SOL_SOCKET, SO_RCVBUF, "SO_RCVBUF", 2);
	get(fd, SOL_SOCKET, SO_RCVBUF, "SO_RCVBUF", 0);
	get(fd, SOL_SOCKET, SO_RCVBUF, "SO_RCVBUF", 100);
	get(fd, SOL_SOCKET, SO_RCVBUF, "SO_RCVBUF", (socklen_t)-1);
	get(fd, SOL_SOCKET, SO_TYPE, "SO_TYPE", 1);
	get(fd, IPPROTO_TCP, TCP_NODELAY, "TCP_NODELAY", 2);
	get(fd, IPPROTO_TCP, TCP_NODELAY, "TCP_NODELAY", 0);
	get(fd, IPPROTO_TCP, TCP_NODELAY, "TCP_NODELAY", (socklen_t)-1);
	get(fd, IPPROTO_TCP, TCP_MAXSEG, "TCP_MAXSEG", 8);
	int v = 1;
	T_CALL("set SO_KEEPALIVE optlen 2", setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &v, 2));
	T_CALL("set SO_KEEPALIVE optlen 0", setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &v, 0));
	long long big = 1;
	T_CALL("set SO_KEEPALIVE optlen 8", setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &big, 8));
	T_EQ("  SO_KEEPALIVE", ct_getint(fd, SOL_SOCKET, SO_KEEPALIVE), 1);
	T_CALL("set TCP_NODELAY optlen 2", setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, 2));
	T_CALL("set SO_KEEPALIVE NULL optval", setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, NULL, 4));
	socklen_t l = 4;
	T_CALL("get SO_TYPE NULL optval", getsockopt(fd, SOL_SOCKET, SO_TYPE, NULL, &l));
	return 0;
}
