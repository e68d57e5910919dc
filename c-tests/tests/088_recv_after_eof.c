// CHECKS: after the peer's data and FIN, recv returns the data, then 0 on
// every further call (blocking, MSG_DONTWAIT, MSG_PEEK, MSG_WAITALL), and
// read() agrees; the connection can still send (CLOSE_WAIT).
// PEER: tcp 20880 send:last shutwr recvall
// NORMALISED: nothing.
#include "trace.h"

#define P 20880

int main(void)
{
	int fd = ct_connect(P);
	char buf[16];
	long n = T_CALL("recv 16 WAITALL", recv(fd, buf, sizeof buf, MSG_WAITALL));
	t_data("  data", buf, n);
	T_CALL("recv", recv(fd, buf, sizeof buf, 0));
	T_CALL("recv again", recv(fd, buf, sizeof buf, 0));
	T_CALL("recv DONTWAIT", recv(fd, buf, sizeof buf, MSG_DONTWAIT));
	T_CALL("recv PEEK", recv(fd, buf, sizeof buf, MSG_PEEK));
	T_CALL("recv WAITALL", recv(fd, buf, sizeof buf, MSG_WAITALL));
	T_CALL("read", read(fd, buf, sizeof buf));
	T_CALL("send in CLOSE_WAIT", send(fd, "reply", 5, 0));
	T_CALL("close", close(fd));
	ct_peer_report(P);
	return 0;
}
