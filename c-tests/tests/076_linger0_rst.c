// CHECKS: SO_LINGER {1, 0} makes close send a reset (the peer sees
// ECONNRESET, after the data it had already read); getsockopt reads it back.
// PEER: tcp 20760 recv:3 signal:got recvall
// NORMALISED: nothing.
#include "trace.h"

#define P 20760

int main(void)
{
	int fd = ct_connect(P);
	T_CALL("send abc", send(fd, "abc", 3, 0));
	ct_wait("got", 5000);
	struct linger l = { 1, 0 };
	T_CALL("setsockopt SO_LINGER {1,0}", setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l));
	socklen_t len = sizeof l;
	memset(&l, 0xff, sizeof l);
	T_CALL("getsockopt SO_LINGER", getsockopt(fd, SOL_SOCKET, SO_LINGER, &l, &len));
	t_log("  = {%d, %d} len %u", l.l_onoff, l.l_linger, (unsigned)len);
	T_CALL("close", close(fd));
	ct_peer_report(P);
	return 0;
}
