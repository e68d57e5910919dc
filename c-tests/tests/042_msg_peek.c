// CHECKS: MSG_PEEK returns data without consuming it, of any length up to
// what is queued; MSG_PEEK|MSG_DONTWAIT on an empty queue is EAGAIN.
// PEER: tcp 20420 send:abcdefgh wait:done
// NORMALISED: nothing.
#include "trace.h"

#define P 20420

int main(void)
{
	int fd = ct_connect(P);
	ct_wait_bytes(fd, 8, 5000);
	char buf[16];
	long n = T_CALL("recv 3 PEEK", recv(fd, buf, 3, MSG_PEEK));
	t_data("  data", buf, n);
	n = T_CALL("recv 16 PEEK", recv(fd, buf, 16, MSG_PEEK));
	t_data("  data", buf, n);
	n = T_CALL("recv 5", recv(fd, buf, 5, 0));
	t_data("  data", buf, n);
	n = T_CALL("recv 16 PEEK|DONTWAIT", recv(fd, buf, 16, MSG_PEEK | MSG_DONTWAIT));
	t_data("  data", buf, n);
	n = T_CALL("recv 16", recv(fd, buf, 16, 0));
	t_data("  data", buf, n);
	T_CALL("recv PEEK|DONTWAIT empty", recv(fd, buf, 16, MSG_PEEK | MSG_DONTWAIT));
	ct_signal("done");
	T_CALL("recv PEEK at EOF", recv(fd, buf, 16, MSG_PEEK));
	return 0;
}
