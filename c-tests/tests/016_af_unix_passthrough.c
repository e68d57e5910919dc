// CHECKS: sockets the shim does not serve (AF_UNIX socketpair, AF_UNIX
// stream) keep working and share the descriptor number space with inet
// sockets (lowest free number); SO_DOMAIN tells them apart.
// PEER: none
// NORMALISED: nothing.
#include "trace.h"
#include <sys/un.h>

int main(void)
{
	int a = T_CALL("socket inet", socket(AF_INET, SOCK_STREAM, 0));
	int sv[2];
	T_CALL("socketpair AF_UNIX", socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	t_log("  fds %d %d", sv[0], sv[1]);
	int b = T_CALL("socket inet", socket(AF_INET, SOCK_DGRAM, 0));
	T_CALL("send on unix", send(sv[0], "unix", 4, 0));
	char buf[8];
	long n = T_CALL("recv on unix", recv(sv[1], buf, sizeof buf, 0));
	t_data("  data", buf, n);
	T_EQ("SO_DOMAIN inet", ct_getint(a, SOL_SOCKET, SO_DOMAIN), AF_INET);
	T_EQ("SO_DOMAIN unix", ct_getint(sv[0], SOL_SOCKET, SO_DOMAIN), AF_UNIX);
	T_CALL("close inet a", close(a));
	T_CALL("socket AF_UNIX gets a's number", socket(AF_UNIX, SOCK_DGRAM, 0));
	T_CALL("close b", close(b));
	T_CALL("socket inet gets b's number", socket(AF_INET, SOCK_STREAM, 0));
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	T_CALL("connect AF_UNIX to nowhere", connect(sv[0], (struct sockaddr *)&un, sizeof un));
	return 0;
}
