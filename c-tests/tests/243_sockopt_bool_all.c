// CHECKS: every boolean socket option reads back 0 by default, and 1 after
// setting any non-zero value, then 0 again after 0, as Linux, on a TCP and a
// UDP socket (SOL_SOCKET, IPPROTO_IP, IPPROTO_TCP flags); options a
// socket type does not have print their errno. Not here (not implemented:
// ENOPROTOOPT): SO_ZEROCOPY, TCP_THIN_*, TCP_SAVE_SYN, TCP_TX_DELAY,
// IP_MULTICAST_ALL.
// PEER: none
// NORMALISED: nothing.
#include "trace.h"

static void one(int fd, int level, int opt, const char *name)
{
	int vals[] = { 1, 5, 0 };
	int got = -7;
	socklen_t l = sizeof got;
	int rc = getsockopt(fd, level, opt, &got, &l);
	if (rc < 0)
		t_log("%s default: -1 %s", name, t_errname(errno));
	else
		t_log("%s default: %d (len %u)", name, got, l);
	for (int i = 0; i < 3; i++) {
		int v = vals[i];
		got = -7;
		l = sizeof got;
		rc = setsockopt(fd, level, opt, &v, sizeof v);
		int e = errno;
		int g = getsockopt(fd, level, opt, &got, &l);
		int ge = errno;
		if (rc < 0)
			t_log("  set %d = -1 %s", v, t_errname(e));
		else if (g < 0)
			t_log("  set %d = 0, get -1 %s", v, t_errname(ge));
		else
			t_log("  set %d = 0, reads %d", v, got);
	}
}

#define O(level, opt) one(fd, level, opt, #opt)

static void all(int fd)
{
	O(SOL_SOCKET, SO_DEBUG);
	O(SOL_SOCKET, SO_REUSEADDR);
	O(SOL_SOCKET, SO_REUSEPORT);
	O(SOL_SOCKET, SO_KEEPALIVE);
	O(SOL_SOCKET, SO_DONTROUTE);
	O(SOL_SOCKET, SO_BROADCAST);
	O(SOL_SOCKET, SO_OOBINLINE);
	O(SOL_SOCKET, SO_NO_CHECK);
	O(SOL_SOCKET, SO_PASSCRED);
	O(SOL_SOCKET, SO_TIMESTAMP);
	O(SOL_SOCKET, SO_TIMESTAMPNS);
	O(SOL_SOCKET, SO_RXQ_OVFL);
	O(SOL_SOCKET, SO_WIFI_STATUS);
	O(SOL_SOCKET, SO_NOFCS);
	O(SOL_SOCKET, SO_SELECT_ERR_QUEUE);
	O(SOL_SOCKET, SO_BUSY_POLL);
	O(SOL_SOCKET, SO_PASSSEC);
	O(IPPROTO_IP, IP_PKTINFO);
	O(IPPROTO_IP, IP_RECVTTL);
	O(IPPROTO_IP, IP_RECVTOS);
	O(IPPROTO_IP, IP_RECVOPTS);
	O(IPPROTO_IP, IP_RETOPTS);
	O(IPPROTO_IP, IP_RECVERR);
	O(IPPROTO_IP, IP_RECVORIGDSTADDR);
	O(IPPROTO_IP, IP_MULTICAST_LOOP);
	O(IPPROTO_IP, IP_FREEBIND);
	O(IPPROTO_IP, IP_TRANSPARENT);
	O(IPPROTO_IP, IP_RECVFRAGSIZE);
	O(IPPROTO_IP, IP_CHECKSUM);
	O(IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT);
	O(IPPROTO_IP, IP_NODEFRAG);
	O(IPPROTO_IP, IP_PASSSEC);
	O(IPPROTO_IP, IP_HDRINCL);
}

static void tcp_all(int fd)
{
	O(IPPROTO_TCP, TCP_NODELAY);
	O(IPPROTO_TCP, TCP_CORK);
	O(IPPROTO_TCP, TCP_QUICKACK);
	O(IPPROTO_TCP, TCP_INQ);
}

int main(void)
{
	t_log("== TCP");
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	all(fd);
	tcp_all(fd);
	t_log("== UDP");
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	all(fd);
	return 0;
}
