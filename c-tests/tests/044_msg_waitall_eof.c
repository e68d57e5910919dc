// CHECKS: MSG_WAITALL returns short when the peer closes: 5 of 100 bytes,
// then 0.
// PEER: tcp 20440 send:12345 close
// NORMALISED: nothing.
#include "trace.h"

#define P 20440

int main(void)
{
	int fd = ct_connect(P);
	char buf[100];
	long n = T_CALL("recv 100 WAITALL", recv(fd, buf, sizeof buf, MSG_WAITALL));
	t_data("  data", buf, n);
	T_CALL("recv WAITALL at EOF", recv(fd, buf, sizeof buf, MSG_WAITALL));
	return 0;
}
