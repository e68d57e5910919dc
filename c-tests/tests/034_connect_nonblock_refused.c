// CHECKS: non-blocking connect to a closed port: EINPROGRESS; poll reports
// the failure (POLLOUT|POLLERR|POLLHUP family); SO_ERROR is ECONNREFUSED
// once, then 0; what a further connect, send and recv return.
// PEER: none
// NORMALISED: nothing.
#include "trace.h"

#define P 20340

int main(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	struct sockaddr_in a = ct_addr(PEER_IP, P);
	T_CALL("connect", connect(fd, (struct sockaddr *)&a, sizeof a));
	t_revents("poll", ct_wait_event(fd, POLLIN | POLLOUT | POLLRDHUP, POLLERR | POLLHUP, 5000));
	int err = ct_getint(fd, SOL_SOCKET, SO_ERROR);
	t_log("SO_ERROR = %s", t_errname(err));
	t_log("SO_ERROR again = %s", t_errname(ct_getint(fd, SOL_SOCKET, SO_ERROR)));
	struct pollfd p = { .fd = fd, .events = POLLIN | POLLOUT | POLLRDHUP };
	poll(&p, 1, 0);
	t_revents("poll after SO_ERROR", p.revents);
	char c;
	T_CALL("recv", recv(fd, &c, 1, 0));
	T_CALL("send", send(fd, "x", 1, MSG_NOSIGNAL));
	T_CALL("connect again", connect(fd, (struct sockaddr *)&a, sizeof a));
	t_revents("poll", ct_wait_event(fd, POLLIN | POLLOUT, POLLERR | POLLHUP, 5000));
	T_CALL("connect third", connect(fd, (struct sockaddr *)&a, sizeof a));
	return 0;
}
