// CHECKS: which options an accepted socket inherits from its listener:
// SO_KEEPALIVE, TCP_NODELAY, SO_RCVBUF, SO_SNDBUF, SO_LINGER, IP_TTL, IP_TOS,
// TCP_KEEPIDLE/INTVL/CNT, SO_RCVTIMEO; and that O_NONBLOCK is not inherited.
// PEER: connect 20245 wait:done
// NORMALISED: nothing.
#include "trace.h"

#define P 20245

int main(void)
{
	int l = socket(AF_INET, SOCK_STREAM, 0);
	ct_setint(l, SOL_SOCKET, SO_KEEPALIVE, 1);
	ct_setint(l, IPPROTO_TCP, TCP_NODELAY, 1);
	ct_setint(l, SOL_SOCKET, SO_RCVBUF, 20000);
	ct_setint(l, SOL_SOCKET, SO_SNDBUF, 30000);
	ct_setint(l, IPPROTO_IP, IP_TTL, 33);
	ct_setint(l, IPPROTO_IP, IP_TOS, 0x10);
	ct_setint(l, IPPROTO_TCP, TCP_KEEPIDLE, 100);
	ct_setint(l, IPPROTO_TCP, TCP_KEEPINTVL, 7);
	ct_setint(l, IPPROTO_TCP, TCP_KEEPCNT, 3);
	struct linger lg = { 1, 4 };
	setsockopt(l, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
	struct timeval tv = { 3, 0 };
	setsockopt(l, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	struct sockaddr_in a = ct_addr(SELF_IP, P);
	bind(l, (struct sockaddr *)&a, sizeof a);
	listen(l, 5);
	ct_set_nonblock(l, 1);
	ct_signal("listening");
	ct_wait_event(l, POLLIN, POLLIN, 5000);
	int c = T_CALL("accept", accept(l, NULL, NULL));
	T_EQ("O_NONBLOCK", !!(fcntl(c, F_GETFL) & O_NONBLOCK), 0);
	T_EQ("SO_KEEPALIVE", ct_getint(c, SOL_SOCKET, SO_KEEPALIVE), 1);
	T_EQ("TCP_NODELAY", ct_getint(c, IPPROTO_TCP, TCP_NODELAY), 1);
	T_EQ("SO_RCVBUF", ct_getint(c, SOL_SOCKET, SO_RCVBUF), 40000);
	T_EQ("SO_SNDBUF", ct_getint(c, SOL_SOCKET, SO_SNDBUF), 60000);
	T_EQ("IP_TTL", ct_getint(c, IPPROTO_IP, IP_TTL), 33);
	T_EQ("IP_TOS", ct_getint(c, IPPROTO_IP, IP_TOS), 0x10);
	T_EQ("TCP_KEEPIDLE", ct_getint(c, IPPROTO_TCP, TCP_KEEPIDLE), 100);
	T_EQ("TCP_KEEPINTVL", ct_getint(c, IPPROTO_TCP, TCP_KEEPINTVL), 7);
	T_EQ("TCP_KEEPCNT", ct_getint(c, IPPROTO_TCP, TCP_KEEPCNT), 3);
	socklen_t len = sizeof lg;
	memset(&lg, 0, sizeof lg);
	getsockopt(c, SOL_SOCKET, SO_LINGER, &lg, &len);
	t_log("SO_LINGER = {%d, %d}", lg.l_onoff, lg.l_linger);
	len = sizeof tv;
	memset(&tv, 0, sizeof tv);
	getsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, &len);
	t_log("SO_RCVTIMEO = {%ld, %ld}", (long)tv.tv_sec, (long)tv.tv_usec);
	ct_signal("done");
	return 0;
}
