// CHECKS: loopback beside the kernel's stack (issue 19). A TCP connect to a
// loopback port where no stack listens is refused (blocking: ECONNREFUSED;
// non-blocking: EINPROGRESS, then POLLOUT|POLLERR|POLLHUP and SO_ERROR
// ECONNREFUSED). A connect to a listener on kernel sockets (another
// process) on 127.0.0.1 succeeds on the same fd, keeping what was set
// before it (TCP_NODELAY, SO_RCVTIMEO, O_NONBLOCK, FD_CLOEXEC), and the
// data flows. UDP: sendto a loopback port where nobody listens, then recv:
// ECONNREFUSED once the socket is connected there.
// PEER: none
// NORMALISED: nothing.
#include "kernel_side.h"

#define P_NONE 21790
#define P_KERN 21791

static struct sockaddr_in lo(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

int main(int argc, char **argv)
{
	ks_main(argc, argv);
	struct sockaddr_in none = lo(P_NONE), kern = lo(P_KERN);
	int fd = T_CALL("socket", socket(AF_INET, SOCK_STREAM, 0));
	T_CALL("connect(127.0.0.1, nobody)", connect(fd, (struct sockaddr *)&none, sizeof none));
	T_CALL("close", close(fd));

	fd = T_CALL("socket(NONBLOCK)", socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
	T_CALL("connect non-blocking (nobody)", connect(fd, (struct sockaddr *)&none, sizeof none));
	struct pollfd p = {.fd = fd, .events = POLLIN | POLLOUT};
	T_CALL("poll", poll(&p, 1, 2000));
	t_revents("revents", p.revents);
	int err = 0;
	socklen_t el = sizeof err;
	T_CALL("getsockopt(SO_ERROR)", getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el));
	t_log("SO_ERROR = %s", err ? t_errname(err) : "0");
	T_CALL("close", close(fd));

	int r;
	ks_t k = ks_start("listen", "127.0.0.1", P_KERN, 0, &r);
	t_log("kernel listener on 127.0.0.1: %s", r ? t_errname(r) : "0");
	fd = T_CALL("socket(CLOEXEC)", socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
	int one = 1;
	struct timeval tv = {.tv_sec = 3, .tv_usec = 0};
	T_CALL("setsockopt(TCP_NODELAY)", setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one));
	T_CALL("setsockopt(SO_RCVTIMEO)", setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
	T_CALL("connect(127.0.0.1, kernel listener)", connect(fd, (struct sockaddr *)&kern, sizeof kern));
	int v = 0;
	socklen_t vl = sizeof v;
	T_CALL("getsockopt(TCP_NODELAY)", getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &vl));
	t_log("TCP_NODELAY = %d", v);
	struct timeval tv2 = {0};
	vl = sizeof tv2;
	T_CALL("getsockopt(SO_RCVTIMEO)", getsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv2, &vl));
	t_log("SO_RCVTIMEO = %lds", (long)tv2.tv_sec);
	t_log("FD_CLOEXEC = %d", fcntl(fd, F_GETFD) & FD_CLOEXEC);
	t_peername("getpeername", fd);
	T_CALL("send", send(fd, "hello", 5, 0));
	char b[16];
	long n = T_CALL("recv", recv(fd, b, sizeof b, 0));
	t_data("echo", b, n);
	T_CALL("close", close(fd));

	fd = T_CALL("socket(NONBLOCK)", socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
	r = connect(fd, (struct sockaddr *)&kern, sizeof kern);
	t_log("connect non-blocking (kernel listener) = %s", r == 0 ? "0" : t_errname(errno));
	p = (struct pollfd){.fd = fd, .events = POLLOUT};
	T_CALL("poll", poll(&p, 1, 2000));
	t_revents("revents", p.revents);
	t_log("O_NONBLOCK kept = %d", !!(fcntl(fd, F_GETFL) & O_NONBLOCK));
	T_CALL("close", close(fd));
	ks_stop(k);

	int u = T_CALL("socket(DGRAM)", socket(AF_INET, SOCK_DGRAM, 0));
	T_CALL("connect(udp 127.0.0.1, nobody)", connect(u, (struct sockaddr *)&none, sizeof none));
	T_CALL("send", send(u, "x", 1, 0));
	p = (struct pollfd){.fd = u, .events = POLLIN};
	T_CALL("poll", poll(&p, 1, 2000));
	t_revents("revents", p.revents);
	T_CALL("recv", recv(u, b, sizeof b, MSG_DONTWAIT));
	T_CALL("close", close(u));
	return 0;
}
