// CHECKS: closing a listener with two connections still in its accept queue
// resets them: the peer's blocked recv on each returns ECONNRESET.
// PEER: connect 20275 count:2 signal:connected recvall
// NORMALISED: nothing. (A sleeps 100 ms after the peer has connected so both
// handshakes are complete on A's side.)
#include "trace.h"

#define P 20275

int main(void)
{
	int l = ct_listen(P, 5);
	ct_signal("listening");
	ct_wait("connected", 10000);
	ct_sleep_ms(100);
	T_CALL("close listener", close(l));
	ct_peer_report(P);
	return 0;
}
