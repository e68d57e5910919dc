// CHECKS: TCP_KEEPIDLE / TCP_KEEPINTVL / TCP_KEEPCNT round trips and their
// ranges (0 and too large are EINVAL); TCP_SYNCNT, TCP_USER_TIMEOUT,
// TCP_LINGER2 round trips and limits.
// PEER: none
// NORMALISED: nothing.
#include "trace.h"

static void try(int fd, int opt, const char *name, int v)
{
	int rc = setsockopt(fd, IPPROTO_TCP, opt, &v, sizeof v);
	int e = errno;
	int got = ct_getint(fd, IPPROTO_TCP, opt);
	if (rc < 0)
		t_log("%s set %d = -1 %s, reads %d", name, v, t_errname(e), got);
	else
		t_log("%s set %d = 0, reads %d", name, v, got);
}

#define TRY(opt, v) try(fd, opt, #opt, v)

int main(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	TRY(TCP_KEEPIDLE, 30);
	TRY(TCP_KEEPIDLE, 0);
	TRY(TCP_KEEPIDLE, 32767);
	TRY(TCP_KEEPIDLE, 32768);
	TRY(TCP_KEEPIDLE, -1);
	TRY(TCP_KEEPINTVL, 10);
	TRY(TCP_KEEPINTVL, 0);
	TRY(TCP_KEEPINTVL, 32768);
	TRY(TCP_KEEPCNT, 5);
	TRY(TCP_KEEPCNT, 0);
	TRY(TCP_KEEPCNT, 127);
	TRY(TCP_KEEPCNT, 128);
	TRY(TCP_SYNCNT, 3);
	TRY(TCP_SYNCNT, 0);
	TRY(TCP_SYNCNT, 127);
	TRY(TCP_SYNCNT, 128);
	TRY(TCP_USER_TIMEOUT, 5000);
	TRY(TCP_USER_TIMEOUT, -1);
	TRY(TCP_USER_TIMEOUT, 0);
	TRY(TCP_LINGER2, 10);
	TRY(TCP_LINGER2, 0);
	TRY(TCP_LINGER2, -1);
	TRY(TCP_LINGER2, 1000);
	return 0;
}
