// CHECKS: a connection whose peer sent data and closed (FIN) before A
// accepted it: accept returns it, the data is readable, then EOF; send
// into it is accepted once, then the peer's reset makes it EPIPE.
// PEER: connect 20295 send:gone close signal:closed
// NORMALISED: nothing. (A sleeps 100 ms after the peer closed so the FIN has
// arrived.)
#include "trace.h"

#define P 20295

int main(void)
{
	int l = ct_listen(P, 5);
	ct_signal("listening");
	ct_wait("closed", 5000);
	ct_sleep_ms(100);
	int c = T_CALL("accept", accept(l, NULL, NULL));
	struct pollfd p = { .fd = c, .events = POLLIN | POLLOUT | POLLRDHUP };
	poll(&p, 1, 0);
	t_revents("poll", p.revents);
	char buf[8];
	long n = T_CALL("recv", recv(c, buf, sizeof buf, 0));
	t_data("  data", buf, n);
	T_CALL("recv", recv(c, buf, sizeof buf, 0));
	T_CALL("send", send(c, "x", 1, MSG_NOSIGNAL));
	ct_wait_event(c, POLLIN, POLLERR | POLLHUP, 5000);
	T_CALL("send", send(c, "x", 1, MSG_NOSIGNAL));
	return 0;
}
