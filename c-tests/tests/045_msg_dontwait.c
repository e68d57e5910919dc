// CHECKS: MSG_DONTWAIT on a blocking socket: EAGAIN when empty, data when
// queued, and it does not change the socket's O_NONBLOCK flag.
// PEER: tcp 20450 echo
// NORMALISED: nothing.
#include "trace.h"

#define P 20450

int main(void)
{
	int fd = ct_connect(P);
	char buf[16];
	T_CALL("recv DONTWAIT empty", recv(fd, buf, sizeof buf, MSG_DONTWAIT));
	T_CALL("send DONTWAIT", send(fd, "ping", 4, MSG_DONTWAIT));
	ct_wait_bytes(fd, 4, 5000);
	long n = T_CALL("recv DONTWAIT", recv(fd, buf, sizeof buf, MSG_DONTWAIT));
	t_data("  data", buf, n);
	T_EQ("O_NONBLOCK", !!(fcntl(fd, F_GETFL) & O_NONBLOCK), 0);
	return 0;
}
