// CHECKS: ICMP port unreachable on a connected UDP socket: send succeeds,
// the next recv fails with ECONNREFUSED (reported once), poll shows POLLERR
// before it; SO_ERROR reports and clears a later one; send after the error.
// PEER: none
// NORMALISED: nothing.
#include "trace.h"

#define P 20590

int main(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = ct_addr(PEER_IP, P);
	T_CALL("connect", connect(fd, (struct sockaddr *)&a, sizeof a));
	T_CALL("send", send(fd, "x", 1, 0));
	char buf[8];
	T_CALL("recv (blocks until the ICMP)", recv(fd, buf, sizeof buf, 0));
	T_CALL("recv DONTWAIT", recv(fd, buf, sizeof buf, MSG_DONTWAIT));
	T_CALL("send", send(fd, "y", 1, 0));
	t_revents("poll", ct_wait_event(fd, POLLIN | POLLOUT, POLLERR, 5000));
	int err = ct_getint(fd, SOL_SOCKET, SO_ERROR);
	t_log("SO_ERROR = %s", t_errname(err));
	t_log("SO_ERROR again = %s", t_errname(ct_getint(fd, SOL_SOCKET, SO_ERROR)));
	T_CALL("recv DONTWAIT", recv(fd, buf, sizeof buf, MSG_DONTWAIT));
	T_CALL("send", send(fd, "z", 1, 0));
	t_revents("poll", ct_wait_event(fd, POLLIN | POLLOUT, POLLERR, 5000));
	T_CALL("send with error pending", send(fd, "w", 1, 0));
	T_CALL("recv DONTWAIT", recv(fd, buf, sizeof buf, MSG_DONTWAIT));
	return 0;
}
