// CHECKS: data calls on a TCP socket that never connected: send is EPIPE
// and raises SIGPIPE, sendto with an address is the same (no implicit
// connect), recv is ENOTCONN; on a listener too.
// PEER: none
// NORMALISED: nothing.
#include "trace.h"

static volatile sig_atomic_t pipes;
static void on_pipe(int s) { (void)s; pipes++; }

int main(void)
{
	ct_sigaction(SIGPIPE, on_pipe, 0);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	T_CALL("send", send(fd, "x", 1, 0));
	T_EQ("SIGPIPE count", pipes, 1);
	struct sockaddr_in a = ct_addr(PEER_IP, 20820);
	T_CALL("sendto with address", sendto(fd, "x", 1, 0, (struct sockaddr *)&a, sizeof a));
	T_EQ("SIGPIPE count", pipes, 2);
	T_CALL("write", write(fd, "x", 1));
	T_EQ("SIGPIPE count", pipes, 3);
	char c;
	T_CALL("recv", recv(fd, &c, 1, 0));
	T_CALL("read", read(fd, &c, 1));
	T_CALL("recv DONTWAIT", recv(fd, &c, 1, MSG_DONTWAIT));
	T_CALL("send 0 bytes", send(fd, "", 0, 0));
	T_EQ("SIGPIPE count", pipes, 4);
	return 0;
}
