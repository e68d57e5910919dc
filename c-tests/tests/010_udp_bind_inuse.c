// CHECKS: UDP port conflicts: EADDRINUSE without options; with SO_REUSEADDR
// on both sockets the second bind succeeds; INADDR_ANY vs specific.
// PEER: none
// NORMALISED: nothing.
#include "trace.h"

#define P 20100

static int ubind(const char *what, int reuse, const char *ip, unsigned port)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (reuse)
		ct_setint(fd, SOL_SOCKET, SO_REUSEADDR, 1);
	struct sockaddr_in a = ct_addr(ip, port);
	T_CALL(what, bind(fd, (struct sockaddr *)&a, sizeof a));
	return fd;
}

int main(void)
{
	ubind("u1 bind 10.7.0.2:P", 0, SELF_IP, P);
	ubind("u2 bind 10.7.0.2:P", 0, SELF_IP, P);
	ubind("u3 (REUSEADDR) bind 10.7.0.2:P", 1, SELF_IP, P);
	ubind("u4 bind 0.0.0.0:P", 0, "0.0.0.0", P);
	ubind("r1 (REUSEADDR) bind P+1", 1, SELF_IP, P + 1);
	ubind("r2 (REUSEADDR) bind P+1", 1, SELF_IP, P + 1);
	ubind("r3 (REUSEADDR) bind 0.0.0.0:P+1", 1, "0.0.0.0", P + 1);
	ubind("a bind 0.0.0.0:P+2", 0, "0.0.0.0", P + 2);
	ubind("b bind 10.7.0.2:P+2", 0, SELF_IP, P + 2);
	return 0;
}
