// CHECKS: listen(fd, 2) lets backlog+1 = 3 connections complete while nobody
// accepts; further SYNs are dropped (the peer's connects time out); accept
// then returns exactly 3 connections and EAGAIN.
// PEER: connect 20265 count:5 try:300 signal:done wait:end
// NORMALISED: nothing.
#include "trace.h"

#define P 20265

int main(void)
{
	int l = ct_listen(P, 2);
	ct_signal("listening");
	ct_wait("done", 10000);
	ct_set_nonblock(l, 1);
	int n = 0;
	while (accept(l, NULL, NULL) >= 0)
		n++;
	t_log("accepted %d, then %s", n, t_errname(errno));
	ct_signal("end");
	ct_peer_report(P);
	return 0;
}
