// CHECKS: a socket closed by the raw close system call (syscall(SYS_close),
// which an LD_PRELOAD library cannot see) is closed: once the kernel gives
// its number to a new socket, the peer has seen EOF on the old connection,
// and the new socket works on that number.
// PEER: tcp 22820 recvall
// NORMALISED: nothing.
#include "trace.h"
#include <sys/syscall.h>

#define P 22820

int main(void)
{
	int fd = ct_connect(P);
	ct_send_all(fd, "abc", 3);
	T_CALL("syscall(SYS_close)", syscall(SYS_close, fd));
	int again = socket(AF_INET, SOCK_STREAM, 0);
	t_check("the new socket has the old number", again == fd);
	struct sockaddr_in a = ct_addr(PEER_IP, P);
	T_CALL("connect on the reused number", connect(again, (struct sockaddr *)&a, sizeof a));
	ct_send_all(again, "defg", 4);
	close(again);
	ct_peer_report(P);
	return 0;
}
