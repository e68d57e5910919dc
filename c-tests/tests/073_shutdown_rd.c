// CHECKS: shutdown(SHUT_RD) on a connection with queued data: the queued data
// is still returned, then recv says 0 at once; data arriving after SHUT_RD;
// poll bits after SHUT_RD; sending still works.
// PEER: tcp 20730 send:early wait:go send:late recvall
// NORMALISED: nothing.
#include "trace.h"

#define P 20730

int main(void)
{
	int fd = ct_connect(P);
	ct_wait_bytes(fd, 5, 5000);
	T_CALL("shutdown RD", shutdown(fd, SHUT_RD));
	struct pollfd p = { .fd = fd, .events = POLLIN | POLLOUT | POLLRDHUP };
	poll(&p, 1, 0);
	t_revents("poll", p.revents);
	char buf[16];
	long n = T_CALL("recv", recv(fd, buf, sizeof buf, 0));
	t_data("  data", buf, n);
	T_CALL("recv", recv(fd, buf, sizeof buf, 0));
	ct_signal("go");
	T_CALL("queued after late data", ct_wait_bytes(fd, 4, 1000));
	n = T_CALL("recv", recv(fd, buf, sizeof buf, 0));
	if (n > 0)
		t_data("  data", buf, n);
	T_CALL("send", send(fd, "still", 5, MSG_NOSIGNAL));
	T_CALL("shutdown RD again", shutdown(fd, SHUT_RD));
	T_CALL("close", close(fd));
	ct_peer_report(P);
	return 0;
}
