// CHECKS: getsockname/getpeername on a fresh socket (0.0.0.0:0 / ENOTCONN),
// addrlen handling: short addrlen truncates but reports the full length,
// addrlen 0, negative addrlen (EINVAL), bad pointers (EFAULT).
// PEER: none
// NORMALISED: nothing.
#include "trace.h"

int main(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	t_sockname("getsockname fresh", fd);
	t_peername("getpeername fresh", fd);
	int u = socket(AF_INET, SOCK_DGRAM, 0);
	t_sockname("udp getsockname fresh", u);
	t_peername("udp getpeername fresh", u);

	struct sockaddr_in a = ct_addr(SELF_IP, 20110);
	bind(fd, (struct sockaddr *)&a, sizeof a);
	unsigned char buf[32];
	memset(buf, 0xee, sizeof buf);
	socklen_t len = 4;
	T_CALL("getsockname addrlen 4", getsockname(fd, (struct sockaddr *)buf, &len));
	t_log("  len = %u bytes = %02x %02x %02x %02x %02x %02x", (unsigned)len, buf[0], buf[1],
	      buf[2], buf[3], buf[4], buf[5]);
	len = 0;
	memset(buf, 0xee, sizeof buf);
	T_CALL("getsockname addrlen 0", getsockname(fd, (struct sockaddr *)buf, &len));
	t_log("  len = %u byte0 = %02x", (unsigned)len, buf[0]);
	len = 64;
	T_CALL("getsockname addrlen 64", getsockname(fd, (struct sockaddr *)buf, &len));
	t_log("  len = %u", (unsigned)len);
	len = (socklen_t)-1;
	T_CALL("getsockname addrlen -1", getsockname(fd, (struct sockaddr *)buf, &len));
	T_CALL("getsockname addrlen NULL", getsockname(fd, (struct sockaddr *)buf, NULL));
	len = 16;
	T_CALL("getsockname addr (void*)1", getsockname(fd, (struct sockaddr *)ct_bad_ptr(), &len));
	T_CALL("getsockname addrlen (void*)1", getsockname(fd, (struct sockaddr *)buf, (socklen_t *)ct_bad_ptr()));
	len = 16;
	T_CALL("getpeername unconnected addrlen 16", getpeername(fd, (struct sockaddr *)buf, &len));
	T_CALL("getpeername addrlen NULL", getpeername(fd, (struct sockaddr *)buf, NULL));
	return 0;
}
