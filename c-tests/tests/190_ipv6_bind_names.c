// CHECKS: AF_INET6 sockets: getsockname of an unbound socket ([::]:0, 28
// bytes), bind to our address, to [::], to [::1], to port 0, to a
// v4-mapped address, with a 24-byte (RFC 2133) sockaddr_in6; errors: a
// 16-byte address (EINVAL), an AF_INET address (EAFNOSUPPORT), a foreign
// address (EADDRNOTAVAIL), binding twice (EINVAL); SO_DOMAIN; an AF_INET
// socket given a sockaddr_in6 (EAFNOSUPPORT); socketpair(AF_INET6).
// PEER: none
// IPV6: yes
// NORMALISED: ports chosen by the stack print as EPHEMERAL.
#include "trace.h"

#define P 21900

static void try_bind(const char *what, int type, const char *ip, unsigned port, socklen_t len)
{
	int fd = socket(AF_INET6, type, 0);
	struct sockaddr_in6 a = ct_addr6(ip, port);
	T_CALL(what, bind(fd, (struct sockaddr *)&a, len));
	t_sockname("  getsockname", fd);
	close(fd);
}

int main(void)
{
	int fd = socket(AF_INET6, SOCK_STREAM, 0);
	t_check("socket AF_INET6 stream", fd >= 0);
	t_sockname("unbound getsockname", fd);
	t_peername("unbound getpeername", fd);
	T_EQ("SO_DOMAIN", ct_getint(fd, SOL_SOCKET, SO_DOMAIN), AF_INET6);
	T_EQ("SO_PROTOCOL", ct_getint(fd, SOL_SOCKET, SO_PROTOCOL), IPPROTO_TCP);
	struct sockaddr_in6 a = ct_addr6(SELF_IP6, P);
	T_CALL("bind", bind(fd, (struct sockaddr *)&a, sizeof a));
	a.sin6_port = htons(P + 9);
	T_CALL("bind again", bind(fd, (struct sockaddr *)&a, sizeof a));
	t_sockname("  getsockname", fd);
	close(fd);

	try_bind("bind tcp [fd00:7::2]:21901", SOCK_STREAM, SELF_IP6, P + 1, sizeof(struct sockaddr_in6));
	try_bind("bind tcp [::]:21902", SOCK_STREAM, "::", P + 2, sizeof(struct sockaddr_in6));
	try_bind("bind tcp [::1]:21903", SOCK_STREAM, "::1", P + 3, sizeof(struct sockaddr_in6));
	try_bind("bind tcp [::]:0", SOCK_STREAM, "::", 0, sizeof(struct sockaddr_in6));
	try_bind("bind tcp [::ffff:10.7.0.2]:21904", SOCK_STREAM, "::ffff:10.7.0.2", P + 4, sizeof(struct sockaddr_in6));
	try_bind("bind tcp 24-byte address", SOCK_STREAM, SELF_IP6, P + 5, 24);
	try_bind("bind tcp 16-byte address", SOCK_STREAM, SELF_IP6, P + 6, 16);
	try_bind("bind tcp foreign [fd00:7::99]", SOCK_STREAM, "fd00:7::99", P + 6, sizeof(struct sockaddr_in6));
	try_bind("bind udp [fd00:7::2]:21907", SOCK_DGRAM, SELF_IP6, P + 7, sizeof(struct sockaddr_in6));
	try_bind("bind udp [::]:0", SOCK_DGRAM, "::", 0, sizeof(struct sockaddr_in6));
	try_bind("bind udp [::1]:0", SOCK_DGRAM, "::1", 0, sizeof(struct sockaddr_in6));

	// An AF_INET address (in a buffer long enough) on an AF_INET6 socket.
	fd = socket(AF_INET6, SOCK_STREAM, 0);
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof ss);
	struct sockaddr_in a4 = ct_addr(SELF_IP, P + 8);
	memcpy(&ss, &a4, sizeof a4);
	T_CALL("bind AF_INET address to AF_INET6", bind(fd, (struct sockaddr *)&ss, sizeof(struct sockaddr_in6)));
	close(fd);
	// An AF_INET6 address on an AF_INET socket.
	fd = socket(AF_INET, SOCK_STREAM, 0);
	a = ct_addr6(SELF_IP6, P + 8);
	T_CALL("bind AF_INET6 address to AF_INET", bind(fd, (struct sockaddr *)&a, sizeof a));
	close(fd);
	// UDP unbound, then autobound by sendto to ::1.
	fd = socket(AF_INET6, SOCK_DGRAM, 0);
	t_sockname("udp unbound getsockname", fd);
	a = ct_addr6("::1", P + 9);
	T_CALL("udp sendto [::1]", sendto(fd, "x", 1, 0, (struct sockaddr *)&a, sizeof a));
	t_sockname("  getsockname", fd);
	close(fd);
	int sv[2];
	T_CALL("socketpair AF_INET6", socketpair(AF_INET6, SOCK_STREAM, 0, sv));
	return 0;
}
