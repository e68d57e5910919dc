// CHECKS: recv flags that cannot apply: MSG_OOB with no urgent data
// (EINVAL), MSG_ERRQUEUE with an empty error queue (EAGAIN), on TCP and UDP.
// PEER: tcp 20540 send:data wait:done
// NORMALISED: nothing.
#include "trace.h"

#define P 20540

int main(void)
{
	int fd = ct_connect(P);
	ct_wait_bytes(fd, 4, 5000);
	char buf[8];
	T_CALL("tcp recv MSG_OOB", recv(fd, buf, sizeof buf, MSG_OOB));
	T_CALL("tcp recv MSG_ERRQUEUE", recv(fd, buf, sizeof buf, MSG_ERRQUEUE));
	long n = T_CALL("tcp recv", recv(fd, buf, sizeof buf, 0));
	t_data("  data", buf, n);
	int u = ct_udp(P + 5);
	T_CALL("udp recv MSG_OOB", recv(u, buf, sizeof buf, MSG_OOB | MSG_DONTWAIT));
	T_CALL("udp recv MSG_ERRQUEUE", recv(u, buf, sizeof buf, MSG_ERRQUEUE));
	T_CALL("udp send MSG_OOB", send(u, buf, 1, MSG_OOB));
	ct_signal("done");
	return 0;
}
