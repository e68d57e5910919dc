// CHECKS: Linux defaults of a fresh TCP socket for every common option
// (SOL_SOCKET, IPPROTO_IP, IPPROTO_TCP), as getsockopt reports them, and
// that each reports optlen 4.
// PEER: none
// NORMALISED: nothing (the namespace has default sysctls in both runs).
#include "trace.h"

static void get(int fd, int level, int opt, const char *name)
{
	int v = -12345;
	socklen_t l = sizeof v;
	errno = 0;
	int rc = getsockopt(fd, level, opt, &v, &l);
	if (rc < 0)
		t_log("%s = -1 %s", name, t_errname(errno));
	else
		t_log("%s = %d (len %u)", name, v, (unsigned)l);
}

#define G(level, opt) get(fd, level, opt, #opt)

int main(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	G(SOL_SOCKET, SO_TYPE);
	G(SOL_SOCKET, SO_DOMAIN);
	G(SOL_SOCKET, SO_PROTOCOL);
	G(SOL_SOCKET, SO_ACCEPTCONN);
	G(SOL_SOCKET, SO_ERROR);
	G(SOL_SOCKET, SO_REUSEADDR);
	G(SOL_SOCKET, SO_REUSEPORT);
	G(SOL_SOCKET, SO_KEEPALIVE);
	G(SOL_SOCKET, SO_BROADCAST);
	G(SOL_SOCKET, SO_OOBINLINE);
	G(SOL_SOCKET, SO_DONTROUTE);
	G(SOL_SOCKET, SO_RCVBUF);
	G(SOL_SOCKET, SO_SNDBUF);
	G(SOL_SOCKET, SO_RCVLOWAT);
	G(SOL_SOCKET, SO_SNDLOWAT);
	G(SOL_SOCKET, SO_PRIORITY);
	G(SOL_SOCKET, SO_MARK);
	G(IPPROTO_IP, IP_TTL);
	G(IPPROTO_IP, IP_TOS);
	G(IPPROTO_IP, IP_RECVERR);
	G(IPPROTO_IP, IP_MTU_DISCOVER);
	G(IPPROTO_IP, IP_MULTICAST_TTL);
	G(IPPROTO_IP, IP_MULTICAST_LOOP);
	G(IPPROTO_TCP, TCP_NODELAY);
	G(IPPROTO_TCP, TCP_MAXSEG);
	G(IPPROTO_TCP, TCP_CORK);
	G(IPPROTO_TCP, TCP_KEEPIDLE);
	G(IPPROTO_TCP, TCP_KEEPINTVL);
	G(IPPROTO_TCP, TCP_KEEPCNT);
	G(IPPROTO_TCP, TCP_SYNCNT);
	G(IPPROTO_TCP, TCP_LINGER2);
	G(IPPROTO_TCP, TCP_DEFER_ACCEPT);
	G(IPPROTO_TCP, TCP_WINDOW_CLAMP);
	G(IPPROTO_TCP, TCP_QUICKACK);
	G(IPPROTO_TCP, TCP_USER_TIMEOUT);
	G(IPPROTO_TCP, TCP_NOTSENT_LOWAT);
	struct linger lg = { -1, -1 };
	socklen_t l = sizeof lg;
	T_CALL("SO_LINGER", getsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, &l));
	t_log("  = {%d, %d} len %u", lg.l_onoff, lg.l_linger, (unsigned)l);
	struct timeval tv = { -1, -1 };
	l = sizeof tv;
	T_CALL("SO_SNDTIMEO", getsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, &l));
	t_log("  = {%ld, %ld} len %u", (long)tv.tv_sec, (long)tv.tv_usec, (unsigned)l);
	return 0;
}
