// CHECKS: UDP truncation: recv into a 4-byte buffer returns 4 and drops the
// rest of the datagram; with MSG_TRUNC recv returns the real length;
// recvmsg sets MSG_TRUNC in msg_flags; MSG_PEEK leaves the datagram queued.
// PEER: udp 20640 wait:bound sendto:20645:0123456789 sendto:20645:abcdefghij sendto:20645:ABCDEFGHIJ sendto:20645:klmnopqrst
// NORMALISED: nothing.
#include "trace.h"

#define P 20640

int main(void)
{
	int fd = ct_udp(P + 5);
	ct_signal("bound");
	char buf[16];
	memset(buf, 0, sizeof buf);
	long n = T_CALL("recv 4", recv(fd, buf, 4, 0));
	t_data("  data", buf, n);
	n = T_CALL("recv 4 MSG_PEEK", recv(fd, buf, 4, MSG_PEEK));
	t_data("  data", buf, n);
	n = T_CALL("recv 4 MSG_TRUNC", recv(fd, buf, 4, MSG_TRUNC));
	t_data("  data", buf, 4);
	struct iovec iov = { buf, 4 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	n = T_CALL("recvmsg 4", recvmsg(fd, &m, 0));
	t_log("  msg_flags & MSG_TRUNC = %d", !!(m.msg_flags & MSG_TRUNC));
	n = T_CALL("recv 16", recv(fd, buf, 16, 0));
	t_data("  data", buf, n);
	return 0;
}
