// CHECKS: TCP_MAXSEG: 536 before connecting, round trip of a set value
// before connecting, limits (too small / too large EINVAL), and the
// effective MSS once connected over a 1500-byte MTU link with TCP
// timestamps (1448), on both the connecting and the accepted side.
// PEER: tcp 21160 wait:done
// PEER: connect 21165 wait:done
// NORMALISED: nothing.
#include "trace.h"

#define P 21160

static void try(int fd, int v)
{
	int rc = setsockopt(fd, IPPROTO_TCP, TCP_MAXSEG, &v, sizeof v);
	int e = errno;
	if (rc < 0)
		t_log("set %d = -1 %s, reads %d", v, t_errname(e), ct_getint(fd, IPPROTO_TCP, TCP_MAXSEG));
	else
		t_log("set %d = 0, reads %d", v, ct_getint(fd, IPPROTO_TCP, TCP_MAXSEG));
}

int main(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	T_EQ("TCP_MAXSEG fresh", ct_getint(fd, IPPROTO_TCP, TCP_MAXSEG), 536);
	try(fd, 1000);
	try(fd, 10);
	try(fd, 87);
	try(fd, 88);
	try(fd, 32767);
	try(fd, 32768);
	try(fd, 0);
	close(fd);
	fd = ct_connect(P);
	T_EQ("TCP_MAXSEG connected", ct_getint(fd, IPPROTO_TCP, TCP_MAXSEG), 1448);
	int l = ct_listen(P + 5, 5);
	ct_signal("listening");
	int c = ct_accept(l);
	T_EQ("TCP_MAXSEG accepted", ct_getint(c, IPPROTO_TCP, TCP_MAXSEG), 1448);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	ct_setint(fd, IPPROTO_TCP, TCP_MAXSEG, 1000);
	struct sockaddr_in a = ct_addr(PEER_IP, P);
	connect(fd, (struct sockaddr *)&a, sizeof a);
	T_EQ("TCP_MAXSEG connected after set 1000", ct_getint(fd, IPPROTO_TCP, TCP_MAXSEG), 988);
	ct_signal("done");
	return 0;
}
