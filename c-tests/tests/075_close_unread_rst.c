// CHECKS: closing a socket with unread received data sends a reset: the
// peer's pending recv ends with ECONNRESET instead of EOF.
// PEER: tcp 20750 send:unread-data recvall
// NORMALISED: nothing.
#include "trace.h"

#define P 20750

int main(void)
{
	int fd = ct_connect(P);
	T_EQ("queued", ct_wait_bytes(fd, 11, 5000), 11);
	T_CALL("close with unread data", close(fd));
	ct_peer_report(P);
	return 0;
}
