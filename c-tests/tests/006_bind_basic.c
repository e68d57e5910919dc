// CHECKS: bind to the host address with an explicit port, to INADDR_ANY with
// an explicit port, to port 0 (ephemeral chosen at bind), a privileged port
// (we are root), and AF_UNSPEC+INADDR_ANY (accepted as AF_INET); getsockname
// after each.
// PEER: none
// NORMALISED: ports chosen by the stack print as EPHEMERAL (checked in range).
#include "trace.h"

#define P 20060

static void try_bind(const char *what, int type, const char *ip, unsigned port, int family)
{
	int fd = socket(AF_INET, type, 0);
	struct sockaddr_in a = ct_addr(ip, port);
	a.sin_family = family;
	T_CALL(what, bind(fd, (struct sockaddr *)&a, sizeof a));
	t_sockname("  getsockname", fd);
	close(fd);
}

int main(void)
{
	try_bind("bind tcp 10.7.0.2:20060", SOCK_STREAM, SELF_IP, P, AF_INET);
	try_bind("bind tcp 0.0.0.0:20061", SOCK_STREAM, "0.0.0.0", P + 1, AF_INET);
	try_bind("bind tcp 10.7.0.2:0", SOCK_STREAM, SELF_IP, 0, AF_INET);
	try_bind("bind tcp 0.0.0.0:0", SOCK_STREAM, "0.0.0.0", 0, AF_INET);
	try_bind("bind tcp 10.7.0.2:80", SOCK_STREAM, SELF_IP, 80, AF_INET);
	try_bind("bind tcp AF_UNSPEC 0.0.0.0:20062", SOCK_STREAM, "0.0.0.0", P + 2, AF_UNSPEC);
	try_bind("bind udp 10.7.0.2:20063", SOCK_DGRAM, SELF_IP, P + 3, AF_INET);
	try_bind("bind udp 0.0.0.0:0", SOCK_DGRAM, "0.0.0.0", 0, AF_INET);
	try_bind("bind udp 10.7.0.2:0", SOCK_DGRAM, SELF_IP, 0, AF_INET);
	return 0;
}
