// CHECKS: a dual-stack AF_INET6 listener on [::] accepts a kernel peer
// connecting over IPv6 from fd00:7::1 (accept's address, names), the peer
// sends and A echoes, the peer closes (EOF).
// PEER: connect 21960 send:abc recv:3 close
// IPV6: yes
// NORMALISED: the peer's ephemeral port prints as EPHEMERAL.
#include "trace.h"

#define P 21960

int main(void)
{
	int l = socket(AF_INET6, SOCK_STREAM, 0);
	ct_setint(l, SOL_SOCKET, SO_REUSEADDR, 1);
	struct sockaddr_in6 a = ct_addr6("::", P);
	T_CALL("bind [::]", bind(l, (struct sockaddr *)&a, sizeof a));
	T_CALL("listen", listen(l, 4));
	ct_signal("listening");
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	int c = T_CALL("accept", accept(l, (struct sockaddr *)&ss, &len));
	t_log("  from %s len %u", t_addrstr((struct sockaddr *)&ss, len), (unsigned)len);
	t_sockname("  getsockname", c);
	t_peername("  getpeername", c);
	char buf[8];
	ct_recv_all(c, buf, 3);
	t_data("  data", buf, 3);
	ct_send_all(c, buf, 3);
	T_CALL("recv EOF", recv(c, buf, sizeof buf, 0));
	close(c);
	close(l);
	ct_peer_report(P);
	return 0;
}
