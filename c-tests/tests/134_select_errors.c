// CHECKS: select/poll argument handling: a closed fd in a select set is
// EBADF, negative nfds EINVAL, a zero timeout returns 0 at once; poll on a
// closed fd reports POLLNVAL, fd -1 is skipped, nfds beyond RLIMIT_NOFILE
// is EINVAL, a negative timeout other than -1 waits forever (not tested).
// PEER: none
// NORMALISED: nothing.
#include "trace.h"
#include <sys/resource.h>
#include <sys/select.h>

int main(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int closed = socket(AF_INET, SOCK_STREAM, 0);
	close(closed);
	fd_set r;
	FD_ZERO(&r);
	FD_SET(closed, &r);
	struct timeval tv = { 0, 0 };
	T_CALL("select closed fd", select(closed + 1, &r, NULL, NULL, &tv));
	T_CALL("select nfds -1", select(-1, NULL, NULL, NULL, &tv));
	FD_ZERO(&r);
	FD_SET(fd, &r);
	T_CALL("select fresh socket, timeout 0 (HUP reads as readable)", select(fd + 1, &r, NULL, NULL, &tv));
	struct pollfd p[3] = { { .fd = closed, .events = POLLIN }, { .fd = -1, .events = POLLIN },
			       { .fd = fd, .events = POLLOUT } };
	T_CALL("poll", poll(p, 3, 0));
	for (int i = 0; i < 3; i++)
		t_revents("  revents", p[i].revents);
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	T_CALL("poll nfds > RLIMIT_NOFILE", poll(p, rl.rlim_cur + 1, 0));
	T_CALL("poll bad pointer", poll(ct_bad_ptr(), 1, 0));
	return 0;
}
