// CHECKS: Linux defaults of a fresh UDP socket, and that TCP-level options
// on it fail (EOPNOTSUPP).
// PEER: none
// NORMALISED: nothing.
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
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	G(SOL_SOCKET, SO_TYPE);
	G(SOL_SOCKET, SO_DOMAIN);
	G(SOL_SOCKET, SO_PROTOCOL);
	G(SOL_SOCKET, SO_ACCEPTCONN);
	G(SOL_SOCKET, SO_ERROR);
	G(SOL_SOCKET, SO_REUSEADDR);
	G(SOL_SOCKET, SO_BROADCAST);
	G(SOL_SOCKET, SO_RCVBUF);
	G(SOL_SOCKET, SO_SNDBUF);
	G(SOL_SOCKET, SO_RCVLOWAT);
	G(IPPROTO_IP, IP_TTL);
	G(IPPROTO_IP, IP_TOS);
	G(IPPROTO_IP, IP_MTU_DISCOVER);
	G(IPPROTO_IP, IP_PKTINFO);
	G(IPPROTO_TCP, TCP_NODELAY);
	G(IPPROTO_TCP, TCP_MAXSEG);
	int one = 1;
	T_CALL("setsockopt TCP_NODELAY", setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one));
	return 0;
}
