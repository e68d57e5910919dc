// CHECKS: reading 10 queued bytes 4 at a time gives 4, 4, 2, then EAGAIN
// (MSG_DONTWAIT), then 0 once the peer closes.
// PEER: tcp 20410 send:0123456789 wait:done close
// NORMALISED: nothing.
#include "trace.h"

#define P 20410

int main(void)
{
	int fd = ct_connect(P);
	T_EQ("queued", ct_wait_bytes(fd, 10, 5000), 10);
	char buf[8];
	for (int i = 0; i < 3; i++) {
		long n = T_CALL("recv 4", recv(fd, buf, 4, 0));
		t_data("  data", buf, n);
	}
	T_CALL("recv 4 MSG_DONTWAIT", recv(fd, buf, 4, MSG_DONTWAIT));
	ct_signal("done");
	T_CALL("recv 4 after peer close", recv(fd, buf, 4, 0));
	return 0;
}
