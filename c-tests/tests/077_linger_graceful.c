// CHECKS: SO_LINGER {1, 5} with a reading peer: close blocks until the data
// is delivered and returns 0; the peer gets all 100000 bytes and EOF.
// PEER: tcp 20770 recvall
// NORMALISED: nothing.
#include "trace.h"

#define P 20770

int main(void)
{
	int fd = ct_connect(P);
	struct linger l = { 1, 5 };
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
	static char buf[100000];
	ct_pattern(buf, sizeof buf, 0);
	T_CALL("send 100000", send(fd, buf, sizeof buf, 0));
	T_CALL("close", close(fd));
	ct_peer_report(P);
	return 0;
}
