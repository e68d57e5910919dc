// CHECKS: blocking connect to a listening peer, names on both ends, a small
// echo round trip, close; the peer's view of it (report).
// PEER: tcp 20300 echo
// NORMALISED: A's ephemeral port (EPHEMERAL, checked in range).
#include "trace.h"

#define P 20300

int main(void)
{
	int fd = T_CALL("socket", socket(AF_INET, SOCK_STREAM, 0));
	struct sockaddr_in a = ct_addr(PEER_IP, P);
	T_CALL("connect", connect(fd, (struct sockaddr *)&a, sizeof a));
	t_sockname("getsockname", fd);
	t_peername("getpeername", fd);
	T_CALL("send", send(fd, "hello", 5, 0));
	char buf[16];
	T_CALL("recv", recv(fd, buf, sizeof buf, 0));
	t_data("data", buf, 5);
	T_CALL("close", close(fd));
	ct_peer_report(P);
	return 0;
}
