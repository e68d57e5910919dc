// CHECKS: close_range(first, ~0U, 0) closes every socket from `first` up
// (the peers see EOF, the fds are EBADF); CLOSE_RANGE_CLOEXEC only marks
// them close-on-exec and they keep working.
// PEER: tcp 20800 recvall
// NORMALISED: nothing.
#include "trace.h"

#define P 20800

int main(void)
{
	int a = ct_connect(P);
	int b = ct_connect(P);
	int c = ct_connect(P);
	t_log("fds %d %d %d", a, b, c);
	T_CALL("close_range(CLOEXEC)", close_range(a, ~0U, CLOSE_RANGE_CLOEXEC));
	T_EQ("FD_CLOEXEC on c", fcntl(c, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	T_CALL("send on a", send(a, "a", 1, 0));
	T_CALL("close_range(a, ~0U, 0)", close_range(a, ~0U, 0));
	T_CALL("send on a", send(a, "a", 1, MSG_NOSIGNAL));
	T_CALL("send on c", send(c, "c", 1, MSG_NOSIGNAL));
	T_CALL("next socket reuses a", socket(AF_INET, SOCK_STREAM, 0));
	ct_peer_report(P);
	return 0;
}
