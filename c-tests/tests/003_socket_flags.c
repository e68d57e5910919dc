// CHECKS: SOCK_NONBLOCK and SOCK_CLOEXEC given to socket() show in
// fcntl(F_GETFL) / fcntl(F_GETFD); without them neither is set; F_GETFL
// reports O_RDWR.
// PEER: none
// NORMALISED: nothing.
#include "trace.h"

static void show(const char *what, int fd)
{
	int fl = fcntl(fd, F_GETFL), fdf = fcntl(fd, F_GETFD);
	t_log("%s: O_NONBLOCK=%d O_ACCMODE=%s FD_CLOEXEC=%d", what, !!(fl & O_NONBLOCK),
	      (fl & O_ACCMODE) == O_RDWR ? "O_RDWR" : "other", !!(fdf & FD_CLOEXEC));
}

int main(void)
{
	int a = T_CALL("socket(STREAM)", socket(AF_INET, SOCK_STREAM, 0));
	int b = T_CALL("socket(STREAM|NONBLOCK)", socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
	int c = T_CALL("socket(STREAM|CLOEXEC)", socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
	int d = T_CALL("socket(DGRAM|NONBLOCK|CLOEXEC)",
		       socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
	show("a", a);
	show("b", b);
	show("c", c);
	show("d", d);
	char x;
	T_CALL("recv(b) nonblocking unconnected", recv(b, &x, 1, 0));
	T_CALL("recv(d) nonblocking unbound udp", recv(d, &x, 1, 0));
	return 0;
}
