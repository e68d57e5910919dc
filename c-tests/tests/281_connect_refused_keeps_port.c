// CHECKS: after a connect() refused by the peer (RST), getsockname still
// shows the ephemeral port the connect took: with the address reset to
// 0.0.0.0 after a blocking connect (Linux's tcp_disconnect), with 10.7.0.2
// after a non-blocking one whose refusal is read with SO_ERROR. A second
// connect to a listener then succeeds.
// PEER: tcp 22812 recvall
// NORMALISED: ephemeral ports print as EPHEMERAL.
#include "trace.h"
#include <poll.h>

#define P 22810

int main(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = ct_addr(PEER_IP, P);
	T_CALL("connect closed port", connect(fd, (struct sockaddr *)&a, sizeof a));
	t_sockname("getsockname after the refusal", fd);
	a.sin_port = htons(P + 2);
	T_CALL("connect to listener", connect(fd, (struct sockaddr *)&a, sizeof a));
	t_sockname("getsockname after the second connect", fd);
	close(fd);

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	a.sin_port = htons(P);
	T_CALL("non-blocking connect closed port", connect(fd, (struct sockaddr *)&a, sizeof a));
	t_revents("poll", ct_wait_event(fd, POLLOUT, POLLOUT | POLLERR | POLLHUP, 5000));
	T_EQ("SO_ERROR", ct_getint(fd, SOL_SOCKET, SO_ERROR), ECONNREFUSED);
	t_sockname("getsockname after the refusal", fd);
	close(fd);
	ct_peer_report(P + 2);
	return 0;
}
