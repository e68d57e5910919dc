// CHECKS: non-blocking listener: accept EAGAIN and poll 0 while empty; the
// peer connects; poll says POLLIN; accept succeeds; EAGAIN again.
// PEER: connect 20285 after:go wait:done
// NORMALISED: nothing.
#include "trace.h"

#define P 20285

int main(void)
{
	int l = ct_listen(P, 5);
	ct_set_nonblock(l, 1);
	T_CALL("accept empty", accept(l, NULL, NULL));
	struct pollfd p = { .fd = l, .events = POLLIN | POLLOUT };
	T_CALL("poll empty", poll(&p, 1, 0));
	t_revents("  revents", p.revents);
	ct_signal("go");
	t_revents("poll until connected", ct_wait_event(l, POLLIN | POLLOUT, POLLIN, 5000));
	T_CALL("accept", accept(l, NULL, NULL));
	T_CALL("accept again", accept(l, NULL, NULL));
	p.revents = 0;
	T_CALL("poll after accept", poll(&p, 1, 0));
	t_revents("  revents", p.revents);
	ct_signal("done");
	return 0;
}
