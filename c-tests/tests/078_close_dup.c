// CHECKS: a dup keeps the connection alive after the original fd is closed
// (data still flows through the dup, the original number is EBADF); the
// connection ends (peer EOF) only when the last descriptor is closed.
// PEER: tcp 20780 echo
// NORMALISED: nothing.
#include "trace.h"

#define P 20780

int main(void)
{
	int fd = ct_connect(P);
	int d = T_CALL("dup", dup(fd));
	T_CALL("close original", close(fd));
	T_CALL("send on original", send(fd, "x", 1, MSG_NOSIGNAL));
	T_CALL("send on dup", send(d, "hi", 2, 0));
	char buf[8];
	ct_wait_bytes(d, 2, 5000);
	long n = T_CALL("recv on dup", recv(d, buf, sizeof buf, 0));
	t_data("  data", buf, n);
	int e = T_CALL("dup again", dup(d));
	T_CALL("shutdown WR via the new dup", shutdown(e, SHUT_WR));
	T_CALL("recv EOF on d", recv(d, buf, sizeof buf, 0));
	T_CALL("close d", close(d));
	T_CALL("close e", close(e));
	ct_peer_report(P);
	return 0;
}
