// CHECKS: A as a server: bind, listen, the peer connects and sends "hello"
// then closes; accept returns the lowest fd with the peer's address; names
// of the accepted socket; data then EOF; fstat of the accepted socket.
// PEER: connect 20225 send:hello close
// NORMALISED: the peer's ephemeral port prints as EPHEMERAL.
#include "trace.h"

#define P 20225

int main(void)
{
	int l = T_CALL("socket", socket(AF_INET, SOCK_STREAM, 0));
	struct sockaddr_in a = ct_addr(SELF_IP, P);
	T_CALL("bind", bind(l, (struct sockaddr *)&a, sizeof a));
	T_CALL("listen", listen(l, 5));
	ct_signal("listening");
	struct sockaddr_in from;
	memset(&from, 0, sizeof from);
	socklen_t fl = sizeof from;
	int c = T_CALL("accept", accept(l, (struct sockaddr *)&from, &fl));
	t_log("accept addr = %s len %u", t_addrstr((struct sockaddr *)&from, fl), (unsigned)fl);
	t_sockname("accepted getsockname", c);
	t_peername("accepted getpeername", c);
	struct stat st;
	T_CALL("fstat", fstat(c, &st));
	t_check("S_ISSOCK", S_ISSOCK(st.st_mode));
	T_EQ("SO_ACCEPTCONN of accepted", ct_getint(c, SOL_SOCKET, SO_ACCEPTCONN), 0);
	ct_wait_bytes(c, 5, 5000);
	char buf[16];
	long n = T_CALL("recv", recv(c, buf, sizeof buf, 0));
	t_data("data", buf, n);
	T_CALL("recv at EOF", recv(c, buf, sizeof buf, 0));
	T_CALL("close accepted", close(c));
	T_CALL("close listener", close(l));
	return 0;
}
