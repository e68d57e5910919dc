// CHECKS: fcntl on sockets: F_SETFL O_NONBLOCK makes recv EAGAIN and is
// shared by dups (same open file description); FIONBIO does the same;
// FD_CLOEXEC is per descriptor; F_DUPFD / F_DUPFD_CLOEXEC pick the lowest
// number >= the argument; F_GETFL shows O_RDWR.
// PEER: tcp 20810 wait:done
// NORMALISED: nothing.
#include "trace.h"

#define P 20810

static void show(const char *what, int fd)
{
	int fl = fcntl(fd, F_GETFL), fdf = fcntl(fd, F_GETFD);
	t_log("%s: O_NONBLOCK=%d O_RDWR=%d FD_CLOEXEC=%d", what, !!(fl & O_NONBLOCK),
	      (fl & O_ACCMODE) == O_RDWR, !!(fdf & FD_CLOEXEC));
}

int main(void)
{
	int fd = ct_connect(P);
	int d = dup(fd);
	show("fd", fd);
	T_CALL("F_SETFL O_NONBLOCK", fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK));
	show("fd", fd);
	show("dup", d);
	char c;
	T_CALL("recv on dup", recv(d, &c, 1, 0));
	T_CALL("F_SETFL 0 on dup", fcntl(d, F_SETFL, 0));
	show("fd", fd);
	int one = 1, zero = 0;
	T_CALL("ioctl FIONBIO 1", ioctl(fd, FIONBIO, &one));
	show("fd", fd);
	T_CALL("recv", recv(fd, &c, 1, 0));
	T_CALL("ioctl FIONBIO 0", ioctl(fd, FIONBIO, &zero));
	show("fd", fd);
	T_CALL("F_SETFD FD_CLOEXEC", fcntl(fd, F_SETFD, FD_CLOEXEC));
	show("fd", fd);
	show("dup", d);
	int e = T_CALL("F_DUPFD 10", fcntl(fd, F_DUPFD, 10));
	show("F_DUPFD copy", e);
	int f = T_CALL("F_DUPFD_CLOEXEC 10", fcntl(fd, F_DUPFD_CLOEXEC, 10));
	show("F_DUPFD_CLOEXEC copy", f);
	T_CALL("F_SETFL O_APPEND|O_NONBLOCK", fcntl(fd, F_SETFL, O_APPEND | O_NONBLOCK));
	t_log("F_GETFL O_APPEND=%d", !!(fcntl(fd, F_GETFL) & O_APPEND));
	T_CALL("F_GETOWN", fcntl(fd, F_GETOWN));
	ct_signal("done");
	return 0;
}
