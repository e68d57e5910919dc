// CHECKS: connect argument errors: short addrlen (EINVAL), wrong family
// (EAFNOSUPPORT), NULL / bad pointer (EFAULT), the subnet broadcast address
// (ENETUNREACH, nothing sent), a second connect after success (EISCONN).
// PEER: tcp 20320 recvall
// NORMALISED: nothing.
#include "trace.h"

#define P 20320

int main(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = ct_addr(PEER_IP, P);
	T_CALL("connect addrlen 8", connect(fd, (struct sockaddr *)&a, 8));
	T_CALL("connect addrlen 0", connect(fd, (struct sockaddr *)&a, 0));
	T_CALL("connect addrlen 1000", connect(fd, (struct sockaddr *)&a, 1000));
	a.sin_family = AF_UNIX;
	T_CALL("connect family AF_UNIX", connect(fd, (struct sockaddr *)&a, sizeof a));
	a.sin_family = AF_INET;
	T_CALL("connect NULL", connect(fd, NULL, sizeof a));
	T_CALL("connect (void*)1", connect(fd, (struct sockaddr *)ct_bad_ptr(), sizeof a));
	struct sockaddr_in bc = ct_addr("10.7.0.255", P);
	T_CALL("connect 10.7.0.255", connect(fd, (struct sockaddr *)&bc, sizeof bc));
	T_CALL("connect", connect(fd, (struct sockaddr *)&a, sizeof a));
	T_CALL("connect again", connect(fd, (struct sockaddr *)&a, sizeof a));
	T_CALL("connect again, AF_UNIX", connect(fd, (struct sockaddr *)&bc, 8));
	close(fd);
	ct_peer_report(P);
	return 0;
}
