// CHECKS: epoll_ctl errors with sockets: ADD twice (EEXIST), MOD/DEL of an
// fd not in the set (ENOENT), a regular file (EPERM), the epoll fd itself
// (EINVAL), a closed fd (EBADF); epoll_wait maxevents 0 (EINVAL).
// PEER: none
// NORMALISED: nothing.
#include "trace.h"
#include <sys/epoll.h>

int main(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0), other = socket(AF_INET, SOCK_DGRAM, 0);
	int ep = epoll_create1(0);
	struct epoll_event e = { .events = EPOLLIN }, out;
	T_CALL("ADD socket", epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e));
	T_CALL("ADD again", epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e));
	T_CALL("MOD not added", epoll_ctl(ep, EPOLL_CTL_MOD, other, &e));
	T_CALL("DEL not added", epoll_ctl(ep, EPOLL_CTL_DEL, other, &e));
	char path[] = "/tmp/ct-epoll-XXXXXX";
	int f = mkstemp(path);
	unlink(path);
	T_CALL("ADD regular file", epoll_ctl(ep, EPOLL_CTL_ADD, f, &e));
	T_CALL("ADD epoll fd itself", epoll_ctl(ep, EPOLL_CTL_ADD, ep, &e));
	close(other);
	T_CALL("ADD closed fd", epoll_ctl(ep, EPOLL_CTL_ADD, other, &e));
	T_CALL("epoll_wait maxevents 0", epoll_wait(ep, &out, 0, 0));
	T_CALL("epoll_wait on a socket", epoll_wait(fd, &out, 1, 0));
	T_CALL("epoll_create1 bad flags", epoll_create1(1));
	return 0;
}
