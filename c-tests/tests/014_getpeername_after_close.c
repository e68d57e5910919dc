// CHECKS: getpeername/getsockname after the peer closes (FIN: still
// connected, CLOSE_WAIT) and after the peer resets (ENOTCONN).
// PEER: tcp 20140 close
// PEER: tcp 20142 wait:connected rst
// The peer resets only once A's connect has returned (wait:connected):
// a reset that arrives first fails the connect itself, on Linux too.
// NORMALISED: A's ephemeral ports print as EPHEMERAL.
#include "trace.h"

#define P 20140

int main(void)
{
	char c;
	int a = ct_connect(P);
	T_CALL("recv after peer FIN", recv(a, &c, 1, 0));
	t_peername("getpeername after FIN", a);
	t_sockname("getsockname after FIN", a);
	int b = ct_connect(P + 2);
	ct_signal("connected");
	T_CALL("recv after peer RST", recv(b, &c, 1, 0));
	t_peername("getpeername after RST", b);
	t_sockname("getsockname after RST", b);
	return 0;
}
