// CHECKS: unknown options and levels: unknown SOL_SOCKET / IPPROTO_TCP /
// IPPROTO_IP option numbers (ENOPROTOOPT), an unknown level (EOPNOTSUPP on
// TCP), read-only options on set (SO_TYPE, SO_PROTOCOL, SO_DOMAIN, SO_ERROR,
// SO_ACCEPTCONN: ENOPROTOOPT); IPPROTO_UDP options on a TCP socket.
// PEER: none
// NORMALISED: nothing.
#include "trace.h"

int main(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int v = 1;
	socklen_t l = sizeof v;
	T_CALL("get SOL_SOCKET 9999", getsockopt(fd, SOL_SOCKET, 9999, &v, &l));
	T_CALL("set SOL_SOCKET 9999", setsockopt(fd, SOL_SOCKET, 9999, &v, sizeof v));
	T_CALL("get IPPROTO_TCP 9999", getsockopt(fd, IPPROTO_TCP, 9999, &v, &l));
	T_CALL("set IPPROTO_TCP 9999", setsockopt(fd, IPPROTO_TCP, 9999, &v, sizeof v));
	T_CALL("get IPPROTO_IP 9999", getsockopt(fd, IPPROTO_IP, 9999, &v, &l));
	T_CALL("set IPPROTO_IP 9999", setsockopt(fd, IPPROTO_IP, 9999, &v, sizeof v));
	T_CALL("get level 9999", getsockopt(fd, 9999, 1, &v, &l));
	T_CALL("set level 9999", setsockopt(fd, 9999, 1, &v, sizeof v));
	T_CALL("get IPPROTO_UDP UDP_CORK", getsockopt(fd, IPPROTO_UDP, 1, &v, &l));
	T_CALL("set SO_TYPE", setsockopt(fd, SOL_SOCKET, SO_TYPE, &v, sizeof v));
	T_CALL("set SO_PROTOCOL", setsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &v, sizeof v));
	T_CALL("set SO_DOMAIN", setsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, sizeof v));
	T_CALL("set SO_ERROR", setsockopt(fd, SOL_SOCKET, SO_ERROR, &v, sizeof v));
	T_CALL("set SO_ACCEPTCONN", setsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, sizeof v));
	int u = socket(AF_INET, SOCK_DGRAM, 0);
	T_CALL("udp get SOL_SOCKET 9999", getsockopt(u, SOL_SOCKET, 9999, &v, &l));
	T_CALL("udp get IPPROTO_UDP 9999", getsockopt(u, IPPROTO_UDP, 9999, &v, &l));
	T_CALL("udp get level 9999", getsockopt(u, 9999, 1, &v, &l));
	return 0;
}
