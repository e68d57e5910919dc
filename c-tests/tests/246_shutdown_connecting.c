// CHECKS: shutdown() of a socket whose connect is still in progress (the
// peer's listen queue is full, so the SYN goes unanswered), for SHUT_RD,
// SHUT_WR and SHUT_RDWR: it succeeds and disconnects, as Linux's
// inet_shutdown for SYN_SENT: poll then reports POLLERR|POLLHUP, SO_ERROR
// is ECONNRESET (once), getpeername ENOTCONN, and the socket can connect
// again (EINPROGRESS).
// PEER: tcp 22460 backlog:0 fill:1 noaccept
// NORMALISED: nothing.
#include "trace.h"

#define P 22460

int main(void)
{
	static const int hows[] = { SHUT_RD, SHUT_WR, SHUT_RDWR };
	static const char *names[] = { "SHUT_RD", "SHUT_WR", "SHUT_RDWR" };
	for (int i = 0; i < 3; i++) {
		t_log("== %s", names[i]);
		int fd = ct_socket(SOCK_STREAM);
		ct_set_nonblock(fd, 1);
		struct sockaddr_in a = ct_addr(PEER_IP, P);
		T_CALL("connect", connect(fd, (struct sockaddr *)&a, sizeof a));
		T_CALL("shutdown", shutdown(fd, hows[i]));
		struct pollfd p = { .fd = fd, .events = 0 };
		T_CALL("poll, no events asked", poll(&p, 1, 0));
		t_revents("  revents", p.revents);
		p.events = POLLIN | POLLOUT | POLLRDHUP;
		T_CALL("poll IN|OUT|RDHUP", poll(&p, 1, 0));
		t_revents("  revents", p.revents);
		t_log("  SO_ERROR %s", t_errname(ct_getint(fd, SOL_SOCKET, SO_ERROR)));
		t_log("  SO_ERROR again %s", t_errname(ct_getint(fd, SOL_SOCKET, SO_ERROR)));
		t_peername("  getpeername", fd);
		char c;
		T_CALL("recv", recv(fd, &c, 1, 0));
		T_CALL("send", send(fd, "x", 1, MSG_NOSIGNAL));
		T_CALL("connect again", connect(fd, (struct sockaddr *)&a, sizeof a));
		close(fd);
	}
	return 0;
}
