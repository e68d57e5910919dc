// CHECKS: a blocking write that has copied part of its data when the peer
// resets the connection returns the bytes it copied, not ECONNRESET, and
// raises no SIGPIPE; the reset stays pending: poll shows it, the next
// write fails with ECONNRESET and the one after with EPIPE (Linux's
// tcp_sendmsg: `if (copied) goto out`, sk_err left set). The same for
// writev and for sendmsg.
// PEER: tcp 22530 rcvbuf:32768 sleep:600 rst
// NORMALISED: the byte count of the partial write is printed as "> 0"
// (it depends on buffer sizes); each reset comes 600 ms after the accept.
#include "trace.h"
#include <sys/uio.h>

#define P 22530
#define BIG (8 << 20)

static void after(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN | POLLOUT };
	T_CALL("poll", poll(&p, 1, 0));
	t_revents("  revents", p.revents);
	T_CALL("write again", write(fd, "x", 1));
	T_CALL("write a third time", write(fd, "x", 1));
	close(fd);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	static char buf[BIG];
	static struct iovec iov[1024];
	for (int i = 0; i < 1024; i++) {
		iov[i].iov_base = buf;
		iov[i].iov_len = BIG / 1024;
	}

	t_log("== write");
	int fd = ct_connect_small(P);
	long n = write(fd, buf, sizeof buf);
	t_log("write: > 0: %s (%s)", n > 0 ? "yes" : "no", n < 0 ? t_errname(errno) : "count");
	after(fd);

	t_log("== writev");
	fd = ct_connect_small(P);
	n = writev(fd, iov, 1024);
	t_log("writev: > 0: %s (%s)", n > 0 ? "yes" : "no", n < 0 ? t_errname(errno) : "count");
	after(fd);

	t_log("== sendmsg");
	fd = ct_connect_small(P);
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = 1024 };
	n = sendmsg(fd, &m, 0);
	t_log("sendmsg: > 0: %s (%s)", n > 0 ? "yes" : "no", n < 0 ? t_errname(errno) : "count");
	after(fd);
	return 0;
}
