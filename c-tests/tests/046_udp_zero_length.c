// CHECKS: UDP zero-length datagrams: sending one succeeds with 0, the peer
// receives it, its echo is received as a 0-byte datagram (distinct from
// "nothing queued": EAGAIN).
// PEER: udp 20460 echo
// NORMALISED: nothing.
#include "trace.h"

#define P 20460

int main(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = ct_addr(PEER_IP, P);
	connect(fd, (struct sockaddr *)&a, sizeof a);
	char buf[8];
	T_CALL("recv DONTWAIT empty", recv(fd, buf, sizeof buf, MSG_DONTWAIT));
	T_CALL("send 0 bytes", send(fd, buf, 0, 0));
	t_revents("poll", ct_wait_event(fd, POLLIN, POLLIN, 5000));
	T_CALL("recv", recv(fd, buf, sizeof buf, 0));
	T_CALL("recv DONTWAIT empty", recv(fd, buf, sizeof buf, MSG_DONTWAIT));
	ct_peer_report(P);
	return 0;
}
