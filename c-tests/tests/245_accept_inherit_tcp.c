// CHECKS: what an accepted TCP socket inherits from its listener, as Linux's
// sk_clone: TCP_USER_TIMEOUT, TCP_SYNCNT (the sysctl when the listener set
// none), TCP_DEFER_ACCEPT, IP_TTL, IP_TOS, IP_RECVTOS, SO_TIMESTAMP; and
// TCP_QUICKACK 0 then 1 reads back.
// PEER: connect 22450 send:x
// PEER: connect 22452 after:second send:x
// NORMALISED: nothing.
#include "trace.h"

#define P 22450

static void show(int fd)
{
	t_log("  TCP_USER_TIMEOUT %d", ct_getint(fd, IPPROTO_TCP, TCP_USER_TIMEOUT));
	t_log("  TCP_SYNCNT %d", ct_getint(fd, IPPROTO_TCP, TCP_SYNCNT));
	t_log("  TCP_DEFER_ACCEPT %d", ct_getint(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT));
	t_log("  IP_TTL %d IP_TOS %d IP_RECVTOS %d SO_TIMESTAMP %d", ct_getint(fd, IPPROTO_IP, IP_TTL),
	      ct_getint(fd, IPPROTO_IP, IP_TOS), ct_getint(fd, IPPROTO_IP, IP_RECVTOS),
	      ct_getint(fd, SOL_SOCKET, SO_TIMESTAMP));
}

int main(void)
{
	int l0 = ct_listen(P, 4);
	int l = ct_listen(P + 2, 4);
	t_log("listener defaults:");
	show(l);
	ct_signal("listening");
	int a = ct_accept(l0);
	t_log("accepted, nothing set:");
	show(a);
	ct_setint(l, IPPROTO_TCP, TCP_USER_TIMEOUT, 5000);
	ct_setint(l, IPPROTO_TCP, TCP_SYNCNT, 3);
	ct_setint(l, IPPROTO_TCP, TCP_WINDOW_CLAMP, 20000);
	ct_setint(l, IPPROTO_TCP, TCP_DEFER_ACCEPT, 0);
	ct_setint(l, IPPROTO_TCP, TCP_QUICKACK, 0);
	ct_setint(l, IPPROTO_IP, IP_TTL, 17);
	ct_setint(l, IPPROTO_IP, IP_TOS, 0x10);
	ct_setint(l, IPPROTO_IP, IP_RECVTOS, 1);
	ct_setint(l, SOL_SOCKET, SO_TIMESTAMP, 1);
	t_log("listener after setting:");
	show(l);
	ct_signal("second");
	int b = ct_accept(l);
	t_log("accepted after setting:");
	show(b);
	T_CALL("TCP_QUICKACK 0", setsockopt(b, IPPROTO_TCP, TCP_QUICKACK, &(int){ 0 }, sizeof(int)));
	t_log("  reads %d", ct_getint(b, IPPROTO_TCP, TCP_QUICKACK));
	T_CALL("TCP_QUICKACK 1", setsockopt(b, IPPROTO_TCP, TCP_QUICKACK, &(int){ 1 }, sizeof(int)));
	t_log("  reads %d", ct_getint(b, IPPROTO_TCP, TCP_QUICKACK));
	return 0;
}
