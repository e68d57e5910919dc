// CHECKS: non-blocking connect: EINPROGRESS, poll says POLLOUT, SO_ERROR 0,
// names set; the next connect returns 0 (Linux reports completion once),
// then EISCONN; the socket then carries data.
// PEER: tcp 20330 echo
// NORMALISED: ephemeral ports print as EPHEMERAL.
#include "trace.h"

#define P 20330

int main(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	struct sockaddr_in a = ct_addr(PEER_IP, P);
	T_CALL("connect", connect(fd, (struct sockaddr *)&a, sizeof a));
	t_revents("poll POLLOUT", ct_wait_event(fd, POLLIN | POLLOUT, POLLOUT, 5000));
	T_EQ("SO_ERROR", ct_getint(fd, SOL_SOCKET, SO_ERROR), 0);
	t_sockname("getsockname", fd);
	t_peername("getpeername", fd);
	T_CALL("connect again", connect(fd, (struct sockaddr *)&a, sizeof a));
	T_CALL("connect third time", connect(fd, (struct sockaddr *)&a, sizeof a));
	T_CALL("send", send(fd, "ping", 4, 0));
	ct_wait_bytes(fd, 4, 5000);
	char buf[8];
	long n = T_CALL("recv", recv(fd, buf, sizeof buf, 0));
	t_data("data", buf, n);
	return 0;
}
