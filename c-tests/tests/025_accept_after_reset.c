// CHECKS: a connection that the peer resets while it waits in the accept
// queue is still returned by accept; then recv gives ECONNRESET once, then
// 0; getpeername fails with ENOTCONN.
// PEER: connect 20255 rst signal:reset
// NORMALISED: nothing. (A sleeps 200 ms after the peer's reset so the RST has
// surely arrived; no output depends on the sleep's length.)
#include "trace.h"

#define P 20255

int main(void)
{
	int l = ct_listen(P, 5);
	ct_signal("listening");
	ct_wait("reset", 10000);
	ct_sleep_ms(200);
	struct pollfd p = { .fd = l, .events = POLLIN };
	T_CALL("poll listener", poll(&p, 1, 0));
	t_revents("  revents", p.revents);
	int c = T_CALL("accept", accept(l, NULL, NULL));
	t_peername("getpeername", c);
	char buf[8];
	T_CALL("recv", recv(c, buf, sizeof buf, 0));
	T_CALL("recv again", recv(c, buf, sizeof buf, 0));
	T_CALL("send", send(c, "x", 1, MSG_NOSIGNAL));
	T_EQ("SO_ERROR", ct_getint(c, SOL_SOCKET, SO_ERROR), 0);
	return 0;
}
