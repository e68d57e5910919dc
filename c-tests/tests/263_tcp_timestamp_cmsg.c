// CHECKS: recvmsg on a TCP socket with SO_TIMESTAMP (then SO_TIMESTAMPNS)
// and TCP_INQ gives the timestamp control message first (the data's
// arrival, tcp_recv_timestamp), then TCP_CM_INQ; without SO_TIMESTAMP
// only TCP_CM_INQ.
// PEER: tcp 22630 send:hello wait:a send:world wait:b send:again wait:done
// NORMALISED: timestamps print only as "within 5 s of now".
#include "trace.h"

#define P 22630

static void show(const char *what, int fd)
{
	char buf[64], cbuf[256];
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof buf };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf };
	long n = T_CALL(what, recvmsg(fd, &m, 0));
	t_data("  data", buf, n);
	t_cmsgs(&m);
}

// Linux stamps arriving packets only once some socket of the system asked
// for timestamps, and the first such request turns stamping on in a
// deferred work item (net_enable_timestamp): a segment that arrives before
// it ran has no time, and TCP then gives no timestamp message (seen in the
// kernel half under load). Wait, up to 5 s, until a segment over loopback
// comes stamped; under the shim the first one is.
static void await_stamping(void)
{
	for (int i = 0; i < 500; i++) {
		int l = ct_socket(SOCK_STREAM);
		struct sockaddr_in a = ct_addr("127.0.0.1", 0);
		socklen_t al = sizeof a;
		if (bind(l, (struct sockaddr *)&a, sizeof a) < 0 || listen(l, 1) < 0 ||
		    getsockname(l, (struct sockaddr *)&a, &al) < 0)
			ct_die("probe listener");
		int c = ct_socket(SOCK_STREAM);
		if (connect(c, (struct sockaddr *)&a, sizeof a) < 0)
			ct_die("probe connect");
		int s = ct_accept(l);
		ct_setint(s, SOL_SOCKET, SO_TIMESTAMP, 1);
		if (send(c, "p", 1, 0) != 1)
			ct_die("probe send");
		char b, cbuf[64];
		struct iovec iov = { .iov_base = &b, .iov_len = 1 };
		struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf };
		if (recvmsg(s, &m, 0) != 1)
			ct_die("probe recvmsg");
		int stamped = CMSG_FIRSTHDR(&m) != NULL;
		close(s);
		close(c);
		close(l);
		if (stamped)
			return;
		ct_sleep_ms(10);
	}
	ct_die("no stamped segment in 5 s");
}

int main(void)
{
	// Timestamps on before any data arrives (Linux stamps a segment only
	// if some socket asked for timestamps when it came in).
	int fd = ct_socket(SOCK_STREAM);
	ct_setint(fd, SOL_TCP, TCP_INQ, 1);
	ct_setint(fd, SOL_SOCKET, SO_TIMESTAMP, 1);
	await_stamping();
	struct sockaddr_in a = ct_addr(PEER_IP, P);
	if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
		ct_die("connect");
	ct_wait_bytes(fd, 5, 3000);
	show("recvmsg, SO_TIMESTAMP + TCP_INQ", fd);
	ct_signal("a");
	ct_setint(fd, SOL_SOCKET, SO_TIMESTAMPNS, 1);
	ct_wait_bytes(fd, 5, 3000);
	show("recvmsg, SO_TIMESTAMPNS + TCP_INQ", fd);
	ct_setint(fd, SOL_SOCKET, SO_TIMESTAMPNS, 0);
	ct_setint(fd, SOL_SOCKET, SO_TIMESTAMP, 0);
	ct_signal("b");
	ct_wait_bytes(fd, 5, 3000);
	show("recvmsg, TCP_INQ only", fd);
	ct_signal("done");
	return 0;
}
