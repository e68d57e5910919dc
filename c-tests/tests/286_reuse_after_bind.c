// CHECKS: SO_REUSEADDR and SO_REUSEPORT set or cleared after bind() count in
// later bind and listen conflicts, as Linux reads sk_reuse/sk_reuseport
// when it checks (inet_csk_bind_conflict, udp_lib_lport_inuse), TCP's
// bind bucket fast path (tb->fastreuse, set from the first binder)
// included.
// PEER: none
// NORMALISED: nothing.
#include "trace.h"

#define P 22860

static int bound(int type, unsigned port, int reuse, int reuseport, const char *what)
{
	int s = ct_socket(type);
	if (reuse)
		ct_setint(s, SOL_SOCKET, SO_REUSEADDR, 1);
	if (reuseport)
		ct_setint(s, SOL_SOCKET, SO_REUSEPORT, 1);
	struct sockaddr_in a = ct_addr("127.0.0.1", port);
	T_CALL(what, bind(s, (struct sockaddr *)&a, sizeof a));
	return s;
}

static void family(int type, unsigned base)
{
	t_log("== %s", type == SOCK_STREAM ? "TCP" : "UDP");
	t_log("-- SO_REUSEADDR set after bind");
	int a = bound(type, base, 0, 0, "a: bind, no option");
	ct_setint(a, SOL_SOCKET, SO_REUSEADDR, 1);
	int b = bound(type, base, 1, 0, "b: SO_REUSEADDR, bind");
	int c = bound(type, base, 0, 0, "c: bind, no option");
	T_CALL("a: clear SO_REUSEADDR", setsockopt(a, SOL_SOCKET, SO_REUSEADDR, &(int){0}, sizeof(int)));
	int d = bound(type, base, 1, 0, "d: SO_REUSEADDR, bind");
	close(a);
	close(b);
	close(c);
	close(d);

	t_log("-- SO_REUSEADDR cleared after bind");
	a = bound(type, base + 1, 1, 0, "a: SO_REUSEADDR, bind");
	T_CALL("a: clear SO_REUSEADDR", setsockopt(a, SOL_SOCKET, SO_REUSEADDR, &(int){0}, sizeof(int)));
	b = bound(type, base + 1, 1, 0, "b: SO_REUSEADDR, bind");
	close(a);
	close(b);

	t_log("-- SO_REUSEPORT set after bind");
	a = bound(type, base + 2, 0, 0, "a: bind, no option");
	ct_setint(a, SOL_SOCKET, SO_REUSEPORT, 1);
	b = bound(type, base + 2, 0, 1, "b: SO_REUSEPORT, bind");
	T_CALL("a: clear SO_REUSEPORT", setsockopt(a, SOL_SOCKET, SO_REUSEPORT, &(int){0}, sizeof(int)));
	c = bound(type, base + 2, 0, 1, "c: SO_REUSEPORT, bind");
	close(a);
	close(b);
	close(c);

	t_log("-- SO_REUSEPORT cleared after bind");
	a = bound(type, base + 3, 0, 1, "a: SO_REUSEPORT, bind");
	T_CALL("a: clear SO_REUSEPORT", setsockopt(a, SOL_SOCKET, SO_REUSEPORT, &(int){0}, sizeof(int)));
	b = bound(type, base + 3, 0, 1, "b: SO_REUSEPORT, bind");
	close(a);
	close(b);

	if (type != SOCK_STREAM)
		return;
	t_log("-- listen after the option changed");
	a = bound(type, base + 4, 1, 0, "a: SO_REUSEADDR, bind");
	b = bound(type, base + 4, 1, 0, "b: SO_REUSEADDR, bind");
	T_CALL("b: clear SO_REUSEADDR", setsockopt(b, SOL_SOCKET, SO_REUSEADDR, &(int){0}, sizeof(int)));
	T_CALL("a: listen", listen(a, 1));
	T_CALL("b: listen", listen(b, 1));
	close(a);
	close(b);
	a = bound(type, base + 5, 0, 1, "a: SO_REUSEPORT, bind");
	b = bound(type, base + 5, 0, 1, "b: SO_REUSEPORT, bind");
	T_CALL("a: listen", listen(a, 1));
	T_CALL("b: clear SO_REUSEPORT", setsockopt(b, SOL_SOCKET, SO_REUSEPORT, &(int){0}, sizeof(int)));
	T_CALL("b: listen", listen(b, 1));
	close(a);
	close(b);
}

int main(void)
{
	family(SOCK_STREAM, P);
	family(SOCK_DGRAM, P);
	return 0;
}
