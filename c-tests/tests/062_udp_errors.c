// CHECKS: UDP call errors: send without a destination (EDESTADDRREQ), sendto
// port 0 (EINVAL), short addrlen (EINVAL), wrong family (EAFNOSUPPORT),
// listen/accept (EOPNOTSUPP), getpeername
// (ENOTCONN), oversized datagram 65508 (EMSGSIZE, also via sendmsg and on a
// connected socket); 65507 is accepted locally.
// PEER: udp 20620 sink
// NORMALISED: nothing.
#include "trace.h"

#define P 20620

int main(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = ct_addr(PEER_IP, P);
	T_CALL("send unconnected", send(fd, "x", 1, 0));
	T_CALL("write unconnected", write(fd, "x", 1));
	struct sockaddr_in z = ct_addr(PEER_IP, 0);
	T_CALL("sendto port 0", sendto(fd, "x", 1, 0, (struct sockaddr *)&z, sizeof z));
	T_CALL("sendto addrlen 8", sendto(fd, "x", 1, 0, (struct sockaddr *)&a, 8));
	struct sockaddr_in f = a;
	f.sin_family = AF_UNIX;
	T_CALL("sendto AF_UNIX", sendto(fd, "x", 1, 0, (struct sockaddr *)&f, sizeof f));
	T_CALL("listen", listen(fd, 1));
	T_CALL("accept", accept(fd, NULL, NULL));
	t_peername("getpeername", fd);
	static char big[65600];
	T_CALL("sendto 65508", sendto(fd, big, 65508, 0, (struct sockaddr *)&a, sizeof a));
	T_CALL("sendto 70000", sendto(fd, big, 70000, 0, (struct sockaddr *)&a, sizeof a));
	struct iovec iov[2] = { { big, 60000 }, { big, 5508 } };
	struct msghdr m = { .msg_name = &a, .msg_namelen = sizeof a, .msg_iov = iov, .msg_iovlen = 2 };
	T_CALL("sendmsg 60000+5508", sendmsg(fd, &m, 0));
	int c = socket(AF_INET, SOCK_DGRAM, 0);
	connect(c, (struct sockaddr *)&a, sizeof a);
	T_CALL("connected send 65508", send(c, big, 65508, 0));
	T_CALL("sendto 1 byte", sendto(fd, "1", 1, 0, (struct sockaddr *)&a, sizeof a));
	ct_peer_report(P);
	return 0;
}
