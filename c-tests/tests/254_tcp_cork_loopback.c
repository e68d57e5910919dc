// CHECKS: TCP_CORK holds a small write on a fresh connection with nothing
// in flight: the other end has nothing to read until the cork is removed,
// then reads it all; with and without TCP_NODELAY, corked on the
// connecting or on the accepted end, over 127.0.0.1 and over SELF_IP.
// PEER: none
// NORMALISED: nothing (the check follows the write at once, well inside
// the 200 ms probe timer that would send corked data on its own).
#include "trace.h"

#define P 22540

static void one(const char *ip, int nodelay, int reversed)
{
	t_log("== %s nodelay %d corked end %s", ip, nodelay, reversed ? "accepted" : "connecting");
	int l = ct_socket(SOCK_STREAM);
	ct_setint(l, SOL_SOCKET, SO_REUSEADDR, 1);
	struct sockaddr_in a = ct_addr(ip, P);
	if (bind(l, (struct sockaddr *)&a, sizeof a) < 0 || listen(l, 4) < 0)
		ct_die("bind/listen");
	int c = ct_socket(SOCK_STREAM);
	if (nodelay)
		ct_setint(c, IPPROTO_TCP, TCP_NODELAY, 1);
	if (connect(c, (struct sockaddr *)&a, sizeof a) < 0)
		ct_die("connect");
	int s = ct_accept(l);
	if (nodelay)
		ct_setint(s, IPPROTO_TCP, TCP_NODELAY, 1);
	int w = reversed ? s : c, r = reversed ? c : s;
	int on = 1, off = 0;
	T_CALL("cork", setsockopt(w, IPPROTO_TCP, TCP_CORK, &on, sizeof on));
	T_CALL("write 4", write(w, "abc", 4));
	char buf[16];
	T_CALL("recv MSG_DONTWAIT", recv(r, buf, sizeof buf, MSG_DONTWAIT));
	T_CALL("uncork", setsockopt(w, IPPROTO_TCP, TCP_CORK, &off, sizeof off));
	T_CALL("recv", recv(r, buf, sizeof buf, 0));
	close(c);
	close(s);
	close(l);
}

int main(void)
{
	const char *ips[] = { "127.0.0.1", SELF_IP };
	for (int i = 0; i < 2; i++)
		for (int nd = 0; nd < 2; nd++)
			for (int rev = 0; rev < 2; rev++)
				one(ips[i], nd, rev);
	return 0;
}
