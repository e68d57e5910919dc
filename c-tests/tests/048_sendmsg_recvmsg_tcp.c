// CHECKS: sendmsg/recvmsg on TCP: scatter/gather, msg_name ignored on a
// connected socket, recvmsg sets msg_namelen to 0, msg_flags 0,
// msg_controllen 0; MSG_PEEK through recvmsg; msg_iovlen 0.
// PEER: tcp 20480 echo
// NORMALISED: nothing.
#include "trace.h"

#define P 20480

int main(void)
{
	int fd = ct_connect(P);
	char a[] = "one-", b[] = "two-", c[] = "three";
	struct iovec iov[3] = { { a, 4 }, { b, 4 }, { c, 5 } };
	struct sockaddr_in to = ct_addr(PEER_IP, P);
	struct msghdr m = { .msg_name = &to, .msg_namelen = sizeof to, .msg_iov = iov, .msg_iovlen = 3 };
	T_CALL("sendmsg 3 iovecs with msg_name", sendmsg(fd, &m, 0));
	ct_wait_bytes(fd, 13, 5000);
	char r1[6], r2[20], ctl[64];
	struct sockaddr_in from;
	struct iovec riov[2] = { { r1, 6 }, { r2, 20 } };
	struct msghdr rm = { .msg_name = &from, .msg_namelen = sizeof from, .msg_iov = riov,
			     .msg_iovlen = 2, .msg_control = ctl, .msg_controllen = sizeof ctl };
	T_CALL("recvmsg PEEK", recvmsg(fd, &rm, MSG_PEEK));
	t_data("  iov0", r1, 6);
	rm.msg_namelen = sizeof from;
	rm.msg_controllen = sizeof ctl;
	rm.msg_flags = -1;
	long n = T_CALL("recvmsg", recvmsg(fd, &rm, 0));
	t_data("  iov0", r1, 6);
	t_data("  iov1", r2, n - 6);
	t_log("  msg_namelen = %u msg_controllen = %zu msg_flags = 0x%x", (unsigned)rm.msg_namelen,
	      (size_t)rm.msg_controllen, rm.msg_flags);
	struct msghdr z = { 0 };
	T_CALL("sendmsg iovlen 0", sendmsg(fd, &z, 0));
	T_CALL("recvmsg iovlen 0 DONTWAIT", recvmsg(fd, &z, MSG_DONTWAIT));
	return 0;
}
