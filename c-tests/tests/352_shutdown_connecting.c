// CHECKS: shutdown() of a connecting TCP socket, as Linux's inet_shutdown:
// in SYN_SENT it disconnects (no RST): SO_ERROR ECONNRESET, the automatic
// port is released (another socket binds it; getsockname shows it on
// 0.0.0.0) and a later connect starts afresh from a new port. After a
// refused connect nobody looked at, shutdown gives ENOTCONN and every
// later connect EINVAL, SO_ERROR still ECONNREFUSED.
// PEER: tcp 23520 recvall
// NORMALISED: ephemeral ports print as EPHEMERAL.
#include "trace.h"

#define P 23520

int main(void)
{
	int c = ct_socket(SOCK_STREAM);
	ct_set_nonblock(c, 1);
	// An address of the device's subnet that no host holds: no answer.
	struct sockaddr_in silent = ct_addr("10.7.0.77", 80);
	T_CALL("connect to a silent address", connect(c, (struct sockaddr *)&silent, sizeof silent));
	struct sockaddr_in a;
	socklen_t n = sizeof a;
	getsockname(c, (struct sockaddr *)&a, &n);
	unsigned old = ntohs(a.sin_port);
	T_CALL("shutdown in SYN_SENT", shutdown(c, SHUT_RDWR));
	n = sizeof a;
	T_CALL("getsockname", getsockname(c, (struct sockaddr *)&a, &n));
	t_log("  address %s, same port: %s", t_addrstr((struct sockaddr *)&a, n),
	      ntohs(a.sin_port) == old ? "yes" : "NO");
	int e = 0;
	socklen_t el = sizeof e;
	T_CALL("SO_ERROR", getsockopt(c, SOL_SOCKET, SO_ERROR, &e, &el));
	t_log("  error %s", e ? t_errname(e) : "0");
	int o = ct_socket(SOCK_STREAM);
	struct sockaddr_in oa = ct_addr("0.0.0.0", old);
	T_CALL("another socket binds the port", bind(o, (struct sockaddr *)&oa, sizeof oa));
	ct_set_nonblock(c, 0);
	struct sockaddr_in peer = ct_addr(PEER_IP, P);
	T_CALL("connect again", connect(c, (struct sockaddr *)&peer, sizeof peer));
	n = sizeof a;
	getsockname(c, (struct sockaddr *)&a, &n);
	t_log("  from a new port: %s", ntohs(a.sin_port) != old ? "yes" : "NO");
	T_CALL("send", send(c, "new", 3, 0));
	close(c);
	close(o);
	ct_peer_report(P);

	int r = ct_socket(SOCK_STREAM);
	ct_set_nonblock(r, 1);
	struct sockaddr_in closed = ct_addr(PEER_IP, P + 5);
	T_CALL("connect to a closed port", connect(r, (struct sockaddr *)&closed, sizeof closed));
	t_revents("poll", ct_wait_event(r, POLLOUT, POLLOUT, 5000));
	T_CALL("shutdown after the refusal", shutdown(r, SHUT_RDWR));
	T_CALL("connect", connect(r, (struct sockaddr *)&closed, sizeof closed));
	T_CALL("connect", connect(r, (struct sockaddr *)&closed, sizeof closed));
	el = sizeof e;
	T_CALL("SO_ERROR", getsockopt(r, SOL_SOCKET, SO_ERROR, &e, &el));
	t_log("  error %s", e ? t_errname(e) : "0");
	close(r);
	return 0;
}
