// CHECKS: shutdown(SHUT_RDWR) on an established connection: the peer sees
// EOF; A's send is EPIPE, recv 0; poll bits; names still available;
// shutdown again succeeds while the peer has not closed, and is ENOTCONN once
// the connection is fully closed.
// PEER: tcp 20740 recvall signal:eof wait:done close signal:closed
// NORMALISED: nothing. (After the peer says it closed, A sleeps 100 ms so
// the FIN has arrived: poll cannot show it, POLLHUP is already set by A's
// own SHUT_RDWR.)
#include "trace.h"

#define P 20740

int main(void)
{
	int fd = ct_connect(P);
	T_CALL("send", send(fd, "abc", 3, 0));
	T_CALL("shutdown RDWR", shutdown(fd, SHUT_RDWR));
	ct_wait("eof", 5000);
	struct pollfd p = { .fd = fd, .events = POLLIN | POLLOUT | POLLRDHUP };
	poll(&p, 1, 0);
	t_revents("poll", p.revents);
	char c;
	T_CALL("recv", recv(fd, &c, 1, 0));
	T_CALL("send", send(fd, "x", 1, MSG_NOSIGNAL));
	t_peername("getpeername", fd);
	T_CALL("shutdown WR again", shutdown(fd, SHUT_WR));
	ct_signal("done");
	ct_wait("closed", 5000);
	ct_sleep_ms(100);
	poll(&p, 1, 0);
	t_revents("poll after peer closed", p.revents);
	T_CALL("shutdown RDWR after peer closed", shutdown(fd, SHUT_RDWR));
	t_peername("getpeername", fd);
	ct_peer_report(P);
	return 0;
}
