// CHECKS: shutdown on a listening socket: SHUT_WR succeeds and it keeps
// listening; SHUT_RD stops it (SO_ACCEPTCONN 0, accept EINVAL).
// PEER: none
// NORMALISED: nothing.
#include "trace.h"

int main(void)
{
	int l = ct_listen(20710, 5);
	T_CALL("shutdown WR", shutdown(l, SHUT_WR));
	T_EQ("SO_ACCEPTCONN", ct_getint(l, SOL_SOCKET, SO_ACCEPTCONN), 1);
	T_CALL("shutdown RD", shutdown(l, SHUT_RD));
	T_EQ("SO_ACCEPTCONN", ct_getint(l, SOL_SOCKET, SO_ACCEPTCONN), 0);
	T_CALL("accept", accept(l, NULL, NULL));
	struct pollfd p = { .fd = l, .events = POLLIN | POLLOUT };
	poll(&p, 1, 0);
	t_revents("poll", p.revents);
	T_CALL("listen again", listen(l, 5));
	T_EQ("SO_ACCEPTCONN", ct_getint(l, SOL_SOCKET, SO_ACCEPTCONN), 1);
	return 0;
}
