// CHECKS: a socket bound to the wildcard that connects holds its port on
// the source address from then on, for bind conflicts (Linux's
// inet_rcv_saddr set at connect): TCP, also after close (the closing
// socket keeps it), and UDP: binding the same port on another local
// address succeeds, on the source address it is EADDRINUSE.
// PEER: none
// NORMALISED: nothing.
#include "trace.h"

#define P 22750

static void one(int type)
{
	t_log("== %s", type == SOCK_STREAM ? "TCP" : "UDP");
	int srv = ct_socket(type);
	ct_setint(srv, SOL_SOCKET, SO_REUSEADDR, 1);
	struct sockaddr_in sa = ct_addr("127.0.0.1", P + 1);
	if (bind(srv, (struct sockaddr *)&sa, sizeof sa) < 0)
		ct_die("bind server");
	if (type == SOCK_STREAM && listen(srv, 4) < 0)
		ct_die("listen");
	int c = ct_socket(type);
	struct sockaddr_in any = ct_addr("0.0.0.0", P);
	T_CALL("bind 0.0.0.0", bind(c, (struct sockaddr *)&any, sizeof any));
	T_CALL("connect 127.0.0.1", connect(c, (struct sockaddr *)&sa, sizeof sa));
	t_sockname("  name", c);
	int a = -1;
	if (type == SOCK_STREAM) {
		a = ct_accept(srv);
		close(c); // the closing socket keeps the port
		ct_sleep_ms(50);
	}
	int x = ct_socket(type);
	struct sockaddr_in self = ct_addr(SELF_IP, P);
	T_CALL("bind SELF_IP, same port", bind(x, (struct sockaddr *)&self, sizeof self));
	close(x);
	x = ct_socket(type);
	struct sockaddr_in lo = ct_addr("127.0.0.1", P);
	T_CALL("bind 127.0.0.1, same port", bind(x, (struct sockaddr *)&lo, sizeof lo));
	close(x);
	if (type == SOCK_DGRAM)
		close(c);
	if (a >= 0)
		close(a);
	close(srv);
}

int main(void)
{
	one(SOCK_STREAM);
	one(SOCK_DGRAM);
	return 0;
}
