// CHECKS: accept errors: not listening (EINVAL), UDP (EOPNOTSUPP), empty
// non-blocking queue (EAGAIN), accept4 with unknown flags (EINVAL).
// PEER: none
// NORMALISED: nothing.
#include "trace.h"

int main(void)
{
	int t = socket(AF_INET, SOCK_STREAM, 0);
	T_CALL("accept unbound tcp", accept(t, NULL, NULL));
	struct sockaddr_in a = ct_addr(SELF_IP, 20215);
	bind(t, (struct sockaddr *)&a, sizeof a);
	T_CALL("accept bound not listening", accept(t, NULL, NULL));
	int u = socket(AF_INET, SOCK_DGRAM, 0);
	T_CALL("accept udp", accept(u, NULL, NULL));
	T_CALL("listen", listen(t, 5));
	ct_set_nonblock(t, 1);
	struct sockaddr_in from;
	socklen_t fl = sizeof from;
	T_CALL("accept nonblocking empty", accept(t, (struct sockaddr *)&from, &fl));
	T_CALL("accept4 SOCK_NONBLOCK empty", accept4(t, NULL, NULL, SOCK_NONBLOCK));
	T_CALL("accept4 flags 0x1", accept4(t, NULL, NULL, 0x1));
	T_CALL("accept4 flags O_APPEND", accept4(t, NULL, NULL, O_APPEND));
	T_CALL("recv on listener", recv(t, &a, 1, 0));
	T_CALL("send on listener", send(t, "x", 1, MSG_NOSIGNAL));
	return 0;
}
