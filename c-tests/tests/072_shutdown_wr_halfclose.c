// CHECKS: half-close: after shutdown(SHUT_WR) A still receives (the peer
// reads A's data to EOF, then answers and closes); send after SHUT_WR is
// EPIPE with SIGPIPE, or without it under MSG_NOSIGNAL.
// PEER: tcp 20720 recvall send:bye close
// NORMALISED: nothing.
#include "trace.h"

#define P 20720

static volatile sig_atomic_t pipes;
static void on_pipe(int s) { (void)s; pipes++; }

int main(void)
{
	ct_sigaction(SIGPIPE, on_pipe, 0);
	int fd = ct_connect(P);
	T_CALL("send data", send(fd, "data", 4, 0));
	T_CALL("shutdown WR", shutdown(fd, SHUT_WR));
	char buf[16];
	long n = T_CALL("recv", recv(fd, buf, sizeof buf, 0));
	t_data("  data", buf, n);
	T_CALL("recv", recv(fd, buf, sizeof buf, 0));
	T_CALL("send after SHUT_WR", send(fd, "x", 1, 0));
	T_EQ("SIGPIPE count", pipes, 1);
	T_CALL("send MSG_NOSIGNAL", send(fd, "x", 1, MSG_NOSIGNAL));
	T_EQ("SIGPIPE count", pipes, 1);
	T_CALL("write", write(fd, "x", 1));
	T_EQ("SIGPIPE count", pipes, 2);
	ct_peer_report(P);
	return 0;
}
