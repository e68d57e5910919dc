// CHECKS: EFAULT for bad user pointers in socket calls, without the process
// crashing: send/recv buffers, sendto/recvfrom addresses, getsockopt and
// setsockopt values and lengths. A recv into a bad buffer does not consume
// the queued data.
// PEER: tcp 20550 send:queued wait:done
// PEER: udp 20552 sink
// NORMALISED: nothing.
#include "trace.h"

#define P 20550
#define BAD ct_bad_ptr()

int main(void)
{
	int fd = ct_connect(P);
	ct_wait_bytes(fd, 6, 5000);
	T_CALL("send bad buffer", send(fd, BAD, 10, MSG_NOSIGNAL));
	T_CALL("recv bad buffer", recv(fd, BAD, 10, 0));
	T_CALL("read bad buffer", read(fd, BAD, 10));
	char buf[16];
	long n = T_CALL("recv good buffer", recv(fd, buf, sizeof buf, 0));
	t_data("  data", buf, n);
	int v = 0;
	socklen_t l = sizeof v;
	T_CALL("getsockopt bad optval", getsockopt(fd, SOL_SOCKET, SO_TYPE, BAD, &l));
	T_CALL("getsockopt bad optlen", getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, BAD));
	T_CALL("setsockopt bad optval", setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, BAD, sizeof v));
	struct iovec iov = { BAD, 10 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	T_CALL("sendmsg bad iov_base", sendmsg(fd, &m, MSG_NOSIGNAL));
	T_CALL("sendmsg bad msghdr", sendmsg(fd, BAD, MSG_NOSIGNAL));
	T_CALL("recvmsg bad msghdr", recvmsg(fd, BAD, MSG_DONTWAIT));
	m.msg_iov = BAD;
	T_CALL("sendmsg bad msg_iov", sendmsg(fd, &m, MSG_NOSIGNAL));

	int u = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = ct_addr(PEER_IP, P + 2);
	T_CALL("udp sendto bad buffer", sendto(u, BAD, 10, 0, (struct sockaddr *)&a, sizeof a));
	T_CALL("udp sendto bad address", sendto(u, "x", 1, 0, BAD, sizeof a));
	T_CALL("udp sendto good", sendto(u, "ok", 2, 0, (struct sockaddr *)&a, sizeof a));
	ct_signal("done");
	ct_peer_report(P + 2);
	return 0;
}
