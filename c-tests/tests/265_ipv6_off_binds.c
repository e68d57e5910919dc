// CHECKS: in a namespace whose interfaces have IPv6 disabled (no ::1), an
// AF_INET6 socket still binds and listens on [::] (UDP too), and a bind
// to ::1 is EADDRNOTAVAIL, as Linux (under the shim: the loopback
// reservation of a wildcard is skipped, issue 19).
// PEER: none
// NORMALISED: nothing.
#include "trace.h"

#define P 22650

int main(void)
{
	int s = socket(AF_INET6, SOCK_STREAM, 0);
	struct sockaddr_in6 a = ct_addr6("::", P);
	T_CALL("tcp bind [::]", bind(s, (struct sockaddr *)&a, sizeof a));
	T_CALL("listen", listen(s, 4));
	int u = socket(AF_INET6, SOCK_DGRAM, 0);
	T_CALL("udp bind [::]", bind(u, (struct sockaddr *)&a, sizeof a));
	int t = socket(AF_INET6, SOCK_STREAM, 0);
	struct sockaddr_in6 b = ct_addr6("::1", P + 1);
	T_CALL("tcp bind [::1]", bind(t, (struct sockaddr *)&b, sizeof b));
	int v = socket(AF_INET6, SOCK_DGRAM, 0);
	T_CALL("udp bind [::1]", bind(v, (struct sockaddr *)&b, sizeof b));
	return 0;
}
