// CHECKS: IP_TTL round trip, limits (0 and 256 EINVAL), -1 restores the
// default; IP_TOS round trip and how TCP keeps the ECN bits out of it; UDP
// IP_TOS keeps all bits; one-byte optlen for IP_TTL/IP_TOS.
// PEER: none
// NORMALISED: nothing.
#include "trace.h"

static void try(int fd, int opt, const char *name, int v)
{
	int rc = setsockopt(fd, IPPROTO_IP, opt, &v, sizeof v);
	int e = errno;
	int got = ct_getint(fd, IPPROTO_IP, opt);
	if (rc < 0)
		t_log("%s set %d = -1 %s, reads %d", name, v, t_errname(e), got);
	else
		t_log("%s set %d = 0, reads %d", name, v, got);
}

int main(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	try(fd, IP_TTL, "tcp IP_TTL", 10);
	try(fd, IP_TTL, "tcp IP_TTL", 255);
	try(fd, IP_TTL, "tcp IP_TTL", 0);
	try(fd, IP_TTL, "tcp IP_TTL", 256);
	try(fd, IP_TTL, "tcp IP_TTL", -1);
	try(fd, IP_TOS, "tcp IP_TOS", 0x10);
	try(fd, IP_TOS, "tcp IP_TOS", 0xff);
	try(fd, IP_TOS, "tcp IP_TOS", 0x103);
	try(fd, IP_TOS, "tcp IP_TOS", 0);
	int u = socket(AF_INET, SOCK_DGRAM, 0);
	try(u, IP_TOS, "udp IP_TOS", 0xff);
	try(u, IP_TTL, "udp IP_TTL", 1);
	unsigned char b = 77;
	T_CALL("tcp set IP_TTL optlen 1", setsockopt(fd, IPPROTO_IP, IP_TTL, &b, 1));
	T_CALL("tcp set IP_TOS optlen 1", setsockopt(fd, IPPROTO_IP, IP_TOS, &b, 1));
	unsigned char out[4] = { 0xee, 0xee, 0xee, 0xee };
	socklen_t l = 1;
	T_CALL("tcp get IP_TTL optlen 1", getsockopt(fd, IPPROTO_IP, IP_TTL, out, &l));
	t_log("  bytes %02x %02x len %u", out[0], out[1], (unsigned)l);
	l = 1;
	T_CALL("tcp get IP_TOS optlen 1", getsockopt(fd, IPPROTO_IP, IP_TOS, out, &l));
	t_log("  bytes %02x %02x len %u", out[0], out[1], (unsigned)l);
	return 0;
}
