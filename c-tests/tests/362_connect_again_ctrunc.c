// CHECKS: a second connect() of a TCP socket whose blocking connect
// returned, and a connect() of an accepted socket, give EISCONN, over
// loopback and to the peer; recv() with MSG_CTRUNC among its flags (an
// output flag tcp_recvmsg ignores on input) reads as a plain recv, with
// MSG_TRUNC|MSG_CTRUNC as MSG_TRUNC (counted, not copied).
// PEER: tcp 23620 send:0123456789 wait:done
// NORMALISED: nothing.
#include "trace.h"

#define P 23620

int main(void)
{
	int l = ct_listen(P + 5, 4);
	int c = ct_socket(SOCK_STREAM);
	struct sockaddr_in a = ct_addr(SELF_IP, P + 5);
	T_CALL("connect over loopback", connect(c, (struct sockaddr *)&a, sizeof a));
	int s = ct_accept(l);
	T_CALL("connect again", connect(c, (struct sockaddr *)&a, sizeof a));
	T_CALL("connect of the accepted socket", connect(s, (struct sockaddr *)&a, sizeof a));

	char out[512], in[512];
	memset(out, 'x', sizeof out);
	ct_send_all(c, out, sizeof out);
	ct_wait_bytes(s, sizeof out, 5000);
	memset(in, 0, sizeof in);
	T_CALL("recv 256 MSG_CTRUNC", recv(s, in, 256, MSG_CTRUNC));
	t_log("  copied: %s", in[0] == 'x' && in[255] == 'x' ? "yes" : "no");
	memset(in, 0, sizeof in);
	T_CALL("recv 128 MSG_TRUNC|MSG_CTRUNC", recv(s, in, 128, MSG_TRUNC | MSG_CTRUNC));
	t_log("  copied: %s", in[0] == 'x' ? "yes" : "no");
	T_CALL("recv 128 MSG_DONTWAIT", recv(s, in, 128, MSG_DONTWAIT));

	int p = ct_connect(P);
	struct sockaddr_in pa = ct_addr(PEER_IP, P);
	T_CALL("connect to the peer again", connect(p, (struct sockaddr *)&pa, sizeof pa));
	ct_wait_bytes(p, 10, 5000);
	memset(in, 0, sizeof in);
	T_CALL("recv from the peer MSG_CTRUNC", recv(p, in, sizeof in, MSG_CTRUNC));
	t_data("  data", in, 10);
	ct_signal("done");
	close(p);
	close(s);
	close(c);
	close(l);
	return 0;
}
