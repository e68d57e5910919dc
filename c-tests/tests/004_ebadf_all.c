// CHECKS: every socket call on a closed descriptor fails with EBADF.
// PEER: none
// NORMALISED: nothing.
#include "trace.h"

int main(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	T_CALL("close", close(fd));
	struct sockaddr_in a = ct_addr(PEER_IP, 20040);
	socklen_t len = sizeof a;
	char buf[8] = "x";
	int v = 1;
	socklen_t vl = sizeof v;
	struct iovec iov = { buf, 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	T_CALL("bind", bind(fd, (struct sockaddr *)&a, sizeof a));
	T_CALL("connect", connect(fd, (struct sockaddr *)&a, sizeof a));
	T_CALL("listen", listen(fd, 1));
	T_CALL("accept", accept(fd, NULL, NULL));
	T_CALL("accept4", accept4(fd, NULL, NULL, SOCK_NONBLOCK));
	T_CALL("send", send(fd, buf, 1, 0));
	T_CALL("sendto", sendto(fd, buf, 1, 0, (struct sockaddr *)&a, sizeof a));
	T_CALL("sendmsg", sendmsg(fd, &m, 0));
	T_CALL("recv", recv(fd, buf, 1, 0));
	T_CALL("recvfrom", recvfrom(fd, buf, 1, 0, NULL, NULL));
	T_CALL("recvmsg", recvmsg(fd, &m, 0));
	T_CALL("read", read(fd, buf, 1));
	T_CALL("write", write(fd, buf, 1));
	T_CALL("getsockopt", getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &vl));
	T_CALL("setsockopt", setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &v, sizeof v));
	T_CALL("getsockname", getsockname(fd, (struct sockaddr *)&a, &len));
	T_CALL("getpeername", getpeername(fd, (struct sockaddr *)&a, &len));
	T_CALL("shutdown", shutdown(fd, SHUT_RDWR));
	T_CALL("fcntl(F_GETFL)", fcntl(fd, F_GETFL));
	T_CALL("ioctl(FIONREAD)", ioctl(fd, FIONREAD, &v));
	T_CALL("close", close(fd));
	T_CALL("dup", dup(fd));
	T_CALL("send on fd 1000", send(1000, buf, 1, 0));
	T_CALL("close(-1)", close(-1));
	return 0;
}
