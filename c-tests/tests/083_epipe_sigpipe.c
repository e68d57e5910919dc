// CHECKS: writing to a connection the peer has closed: the first send is
// accepted (the peer answers with a reset), then send is EPIPE with SIGPIPE;
// MSG_NOSIGNAL suppresses the signal; write() raises it too.
// PEER: tcp 20830 close
// NORMALISED: nothing.
#include "trace.h"

#define P 20830

static volatile sig_atomic_t pipes;
static void on_pipe(int s) { (void)s; pipes++; }

int main(void)
{
	ct_sigaction(SIGPIPE, on_pipe, 0);
	int fd = ct_connect(P);
	char c;
	T_CALL("recv (peer FIN)", recv(fd, &c, 1, 0));
	T_CALL("send into the closed peer", send(fd, "x", 1, 0));
	t_revents("poll until reset", ct_wait_event(fd, POLLIN | POLLOUT, POLLERR | POLLHUP, 5000));
	T_EQ("SIGPIPE count", pipes, 0);
	T_CALL("send", send(fd, "x", 1, 0));
	T_EQ("SIGPIPE count", pipes, 1);
	T_CALL("send MSG_NOSIGNAL", send(fd, "x", 1, MSG_NOSIGNAL));
	T_EQ("SIGPIPE count", pipes, 1);
	T_CALL("write", write(fd, "x", 1));
	T_EQ("SIGPIPE count", pipes, 2);
	struct iovec iov = { "x", 1 };
	T_CALL("writev", writev(fd, &iov, 1));
	T_EQ("SIGPIPE count", pipes, 3);
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	T_CALL("sendmsg MSG_NOSIGNAL", sendmsg(fd, &m, MSG_NOSIGNAL));
	T_EQ("SIGPIPE count", pipes, 3);
	T_CALL("recv", recv(fd, &c, 1, 0));
	return 0;
}
