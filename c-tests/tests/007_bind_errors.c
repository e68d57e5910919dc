// CHECKS: bind errors: second bind (EINVAL), an address that is not ours
// (10.9.9.9, and the peer's 10.7.0.1: EADDRNOTAVAIL), short and oversized
// addrlen (EINVAL), wrong family (EAFNOSUPPORT), AF_UNSPEC with a non-any
// address (EAFNOSUPPORT), bad pointers (EFAULT). bind sends nothing.
// PEER: none
// NORMALISED: nothing.
#include "trace.h"

#define P 20070

int main(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = ct_addr(SELF_IP, P);
	T_CALL("bind 10.7.0.2:20070", bind(fd, (struct sockaddr *)&a, sizeof a));
	T_CALL("bind again same", bind(fd, (struct sockaddr *)&a, sizeof a));
	a.sin_port = htons(P + 1);
	T_CALL("bind again other port", bind(fd, (struct sockaddr *)&a, sizeof a));
	close(fd);

	fd = socket(AF_INET, SOCK_STREAM, 0);
	a = ct_addr("10.9.9.9", P);
	T_CALL("bind 10.9.9.9", bind(fd, (struct sockaddr *)&a, sizeof a));
	a = ct_addr(PEER_IP, P);
	T_CALL("bind 10.7.0.1 (the peer's)", bind(fd, (struct sockaddr *)&a, sizeof a));
	a = ct_addr(SELF_IP, P + 2);
	T_CALL("bind addrlen 8", bind(fd, (struct sockaddr *)&a, 8));
	T_CALL("bind addrlen 0", bind(fd, (struct sockaddr *)&a, 0));
	T_CALL("bind addrlen 1000", bind(fd, (struct sockaddr *)&a, 1000));
	a.sin_family = AF_UNIX;
	T_CALL("bind family AF_UNIX", bind(fd, (struct sockaddr *)&a, sizeof a));
	a.sin_family = AF_UNSPEC;
	T_CALL("bind AF_UNSPEC 10.7.0.2", bind(fd, (struct sockaddr *)&a, sizeof a));
	T_CALL("bind NULL", bind(fd, NULL, sizeof a));
	T_CALL("bind (void*)1", bind(fd, (struct sockaddr *)ct_bad_ptr(), sizeof a));
	t_sockname("getsockname (still unbound)", fd);
	a = ct_addr(SELF_IP, P + 3);
	T_CALL("bind 10.7.0.2:20073 finally", bind(fd, (struct sockaddr *)&a, sizeof a));

	int u = socket(AF_INET, SOCK_DGRAM, 0);
	a = ct_addr("10.9.9.9", P);
	T_CALL("udp bind 10.9.9.9", bind(u, (struct sockaddr *)&a, sizeof a));
	a = ct_addr(SELF_IP, P);
	T_CALL("udp bind 10.7.0.2:20070", bind(u, (struct sockaddr *)&a, sizeof a));
	T_CALL("udp bind again", bind(u, (struct sockaddr *)&a, sizeof a));
	return 0;
}
