// CHECKS: descriptors are always the lowest free number: after closing two
// sockets in the middle, socket(), accept()-free dup() and F_DUPFD reuse
// them in order; a /dev/null open also takes the lowest.
// PEER: none
// NORMALISED: nothing.
#include "trace.h"

int main(void)
{
	int fds[12];
	for (int i = 0; i < 12; i++)
		fds[i] = socket(AF_INET, i % 2 ? SOCK_DGRAM : SOCK_STREAM, 0);
	t_log("first = %d last = %d", fds[0], fds[11]);
	T_CALL("close(5)", close(5));
	T_CALL("close(9)", close(9));
	T_CALL("socket -> 5", socket(AF_INET, SOCK_STREAM, 0));
	T_CALL("dup(3) -> 9", dup(3));
	T_CALL("socket -> 15", socket(AF_INET, SOCK_DGRAM, 0));
	T_CALL("close(4)", close(4));
	T_CALL("open(/dev/null) -> 4", open("/dev/null", O_RDONLY));
	T_CALL("fcntl(3, F_DUPFD, 7) -> 16", fcntl(3, F_DUPFD, 7));
	T_CALL("close(7)", close(7));
	T_CALL("fcntl(3, F_DUPFD, 7) -> 7", fcntl(3, F_DUPFD, 7));
	T_CALL("dup2(3, 30)", dup2(3, 30));
	T_CALL("socket -> 17", socket(AF_INET, SOCK_STREAM, 0));
	return 0;
}
