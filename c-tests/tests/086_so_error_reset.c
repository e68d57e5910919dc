// CHECKS: SO_ERROR after a peer reset reports ECONNRESET once and clears it;
// recv afterwards is 0 (not an error); getpeername ENOTCONN.
// PEER: tcp 20860 wait:connected rst
// The peer resets only once A's connect has returned (wait:connected):
// a reset that arrives first fails the connect itself, on Linux too.
// NORMALISED: nothing.
#include "trace.h"

#define P 20860

int main(void)
{
	int fd = ct_connect(P);
	ct_signal("connected");
	ct_wait_event(fd, POLLIN, POLLERR, 5000);
	t_log("SO_ERROR = %s", t_errname(ct_getint(fd, SOL_SOCKET, SO_ERROR)));
	t_log("SO_ERROR = %s", t_errname(ct_getint(fd, SOL_SOCKET, SO_ERROR)));
	char c;
	T_CALL("recv", recv(fd, &c, 1, 0));
	t_peername("getpeername", fd);
	return 0;
}
