// CHECKS: writev with 64 iovecs of sizes 1..64 and readv into 40 iovecs of 60
// bytes carry 2080 bytes intact through an echo; iovcnt 0 returns 0;
// iovcnt over IOV_MAX is EINVAL (writev/readv) and EMSGSIZE (sendmsg).
// PEER: tcp 20470 echo
// NORMALISED: nothing.
#include "trace.h"

#define P 20470

int main(void)
{
	int fd = ct_connect(P);
	static char data[2080], back[2400];
	ct_pattern(data, sizeof data, 0);
	struct iovec iov[1100];
	size_t off = 0;
	for (int i = 0; i < 64; i++) {
		iov[i].iov_base = data + off;
		iov[i].iov_len = i + 1;
		off += i + 1;
	}
	T_CALL("writev 64 iovecs", writev(fd, iov, 64));
	T_EQ("queued", ct_wait_bytes(fd, 2080, 5000), 2080);
	for (int i = 0; i < 40; i++) {
		iov[i].iov_base = back + 60 * i;
		iov[i].iov_len = 60;
	}
	T_CALL("readv 40 iovecs", readv(fd, iov, 40));
	t_check("data intact", memcmp(back, data, 2080) == 0);
	T_CALL("writev 0 iovecs", writev(fd, iov, 0));
	T_CALL("readv 0 iovecs", readv(fd, iov, 0));
	for (int i = 0; i < 1100; i++) {
		iov[i].iov_base = data;
		iov[i].iov_len = 1;
	}
	T_CALL("writev 1025 iovecs", writev(fd, iov, 1025));
	T_CALL("readv 1025 iovecs", readv(fd, iov, 1025));
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = 1025 };
	T_CALL("sendmsg 1025 iovecs", sendmsg(fd, &m, 0));
	T_CALL("recvmsg 1025 iovecs", recvmsg(fd, &m, MSG_DONTWAIT));
	m.msg_iovlen = 1024;
	T_CALL("sendmsg 1024 iovecs", sendmsg(fd, &m, 0));
	T_EQ("echoed", ct_wait_bytes(fd, 1024, 5000), 1024);
	return 0;
}
