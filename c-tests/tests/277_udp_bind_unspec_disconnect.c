// CHECKS: bind(AF_UNSPEC) on an AF_INET UDP socket binds the wildcard
// address and an ephemeral port, as Linux's inet_bind compatibility rule;
// a port chosen by the kernel (bind to port 0, or AF_UNSPEC) is released
// by a disconnect (connect AF_UNSPEC), so getsockname reads 0.0.0.0:0
// again, while an explicitly bound port stays (Linux's SOCK_BINDPORT_LOCK).
// A bind(AF_UNSPEC) naming a non-wildcard address is EAFNOSUPPORT.
// PEER: none
// NORMALISED: ephemeral ports print as EPHEMERAL.
#include "trace.h"

#define P 22770

static void disconnect_after(const char *what, int fd)
{
	struct sockaddr_in to = ct_addr("127.0.0.1", P);
	t_log("== %s", what);
	t_sockname("  bound", fd);
	T_CALL("  connect", connect(fd, (struct sockaddr *)&to, sizeof to));
	t_sockname("  connected", fd);
	struct sockaddr_storage unspec = { .ss_family = AF_UNSPEC };
	T_CALL("  disconnect", connect(fd, (struct sockaddr *)&unspec, sizeof unspec));
	t_sockname("  disconnected", fd);
	t_peername("  peer", fd);
	close(fd);
}

int main(void)
{
	int peer = ct_socket(SOCK_DGRAM);
	struct sockaddr_in pa = ct_addr("127.0.0.1", P);
	if (bind(peer, (struct sockaddr *)&pa, sizeof pa) < 0)
		ct_die("bind peer");

	int fd = ct_socket(SOCK_DGRAM);
	struct sockaddr_storage unspec = { .ss_family = AF_UNSPEC };
	T_CALL("bind AF_UNSPEC", bind(fd, (struct sockaddr *)&unspec, sizeof unspec));
	disconnect_after("bound by AF_UNSPEC", fd);

	fd = ct_socket(SOCK_DGRAM);
	struct sockaddr_in any0 = ct_addr("0.0.0.0", 0);
	T_CALL("bind 0.0.0.0:0", bind(fd, (struct sockaddr *)&any0, sizeof any0));
	disconnect_after("bound to port 0", fd);

	fd = ct_socket(SOCK_DGRAM);
	struct sockaddr_in anyp = ct_addr("0.0.0.0", P + 5);
	T_CALL("bind 0.0.0.0:P+5", bind(fd, (struct sockaddr *)&anyp, sizeof anyp));
	disconnect_after("bound to a port", fd);

	fd = ct_socket(SOCK_DGRAM);
	disconnect_after("never bound", fd);

	fd = ct_socket(SOCK_DGRAM);
	struct sockaddr_in un = ct_addr("127.0.0.1", 0);
	un.sin_family = AF_UNSPEC;
	T_CALL("bind AF_UNSPEC 127.0.0.1", bind(fd, (struct sockaddr *)&un, sizeof un));
	close(fd);

	fd = ct_socket(SOCK_STREAM);
	T_CALL("tcp bind AF_UNSPEC", bind(fd, (struct sockaddr *)&unspec, sizeof unspec));
	t_sockname("  bound", fd);
	close(fd);
	return 0;
}
