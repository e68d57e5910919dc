// CHECKS: TCP_DEFER_ACCEPT as Linux: the value reads back as whole SYN-ACK
// rounds (5 s -> 7); a connection whose handshake completed is not
// accepted before its first data (EAGAIN), then is, with the data; with
// no data at all it is accepted after the deferring period (the SYN-ACK
// sent at its end draws the ACK that completes it).
// PEER: connect 22500 wait:data send:x
// PEER: connect 22502 after:second sleep:4000
// NORMALISED: waits are 300 ms before EAGAIN and up to 5 s for readiness.
#include "trace.h"

#define P 22500

int main(void)
{
	int l = ct_listen(P, 4);
	T_CALL("TCP_DEFER_ACCEPT 5", setsockopt(l, IPPROTO_TCP, TCP_DEFER_ACCEPT, &(int){ 5 }, sizeof(int)));
	t_log("  reads %d", ct_getint(l, IPPROTO_TCP, TCP_DEFER_ACCEPT));
	T_CALL("TCP_DEFER_ACCEPT 3", setsockopt(l, IPPROTO_TCP, TCP_DEFER_ACCEPT, &(int){ 3 }, sizeof(int)));
	t_log("  reads %d", ct_getint(l, IPPROTO_TCP, TCP_DEFER_ACCEPT));
	ct_set_nonblock(l, 1);
	ct_signal("listening");
	ct_sleep_ms(300);
	T_CALL("accept before data", accept(l, NULL, NULL));
	ct_signal("data");
	t_log("listener readable: %d", ct_wait_event(l, POLLIN, POLLIN, 5000));
	int a = T_CALL("accept after data", accept(l, NULL, NULL));
	if (a >= 0) {
		ct_wait_bytes(a, 1, 5000);
		char c = 0;
		long n = T_CALL("  recv", recv(a, &c, 1, MSG_DONTWAIT));
		t_data("  data", &c, n);
	}

	int l2 = ct_listen(P + 2, 4);
	ct_setint(l2, IPPROTO_TCP, TCP_DEFER_ACCEPT, 1);
	ct_set_nonblock(l2, 1);
	ct_signal("second");
	ct_sleep_ms(300);
	T_CALL("accept, no data yet", accept(l2, NULL, NULL));
	t_log("listener readable after the deferring period: %d", ct_wait_event(l2, POLLIN, POLLIN, 5000));
	T_CALL("accept", accept(l2, NULL, NULL) >= 0 ? 0 : -1);
	return 0;
}
