// CHECKS: SO_BINDTODEVICE and SO_BINDTOIFINDEX set and read back as Linux
// on TCP and UDP sockets: "lo" (ifindex 1), an unknown device (ENODEV),
// an empty name unbinds (optlen 0 back), a short getsockopt buffer
// (EINVAL); two SO_REUSEPORT sockets bound to lo share a port on
// 127.0.0.1 (gVisor's BindToDeviceReusePort).
// PEER: none
// NORMALISED: the shared port prints as EPHEMERAL.
#include "trace.h"

#ifndef SO_BINDTOIFINDEX
#define SO_BINDTOIFINDEX 62
#endif

static void get_dev(int s)
{
	char name[16];
	memset(name, 0, sizeof name);
	socklen_t l = sizeof name;
	long r = getsockopt(s, SOL_SOCKET, SO_BINDTODEVICE, name, &l);
	t_ret("  getsockopt SO_BINDTODEVICE", r, errno);
	t_log("  name \"%s\" optlen %u", name, (unsigned)l);
	int idx = -1;
	l = sizeof idx;
	r = getsockopt(s, SOL_SOCKET, SO_BINDTOIFINDEX, &idx, &l);
	t_ret("  getsockopt SO_BINDTOIFINDEX", r, errno);
	t_log("  ifindex %d", idx);
}

static void one(int type)
{
	t_log("== %s", type == SOCK_STREAM ? "TCP" : "UDP");
	int s = ct_socket(type);
	get_dev(s);
	T_CALL("bind to lo", setsockopt(s, SOL_SOCKET, SO_BINDTODEVICE, "lo", 2));
	get_dev(s);
	char tiny[2];
	socklen_t l = sizeof tiny;
	T_CALL("getsockopt, 2 bytes", getsockopt(s, SOL_SOCKET, SO_BINDTODEVICE, tiny, &l));
	T_CALL("unknown device", setsockopt(s, SOL_SOCKET, SO_BINDTODEVICE, "nope0", 5));
	T_CALL("empty name", setsockopt(s, SOL_SOCKET, SO_BINDTODEVICE, "", 0));
	get_dev(s);
	int one = 1;
	T_CALL("SO_BINDTOIFINDEX 1", setsockopt(s, SOL_SOCKET, SO_BINDTOIFINDEX, &one, sizeof one));
	get_dev(s);
	close(s);

	int a = ct_socket(type), b = ct_socket(type);
	ct_setint(a, SOL_SOCKET, SO_REUSEPORT, 1);
	T_CALL("a: bind to lo", setsockopt(a, SOL_SOCKET, SO_BINDTODEVICE, "lo", 2));
	struct sockaddr_in addr = ct_addr("127.0.0.1", 0);
	T_CALL("a: bind 127.0.0.1:0", bind(a, (struct sockaddr *)&addr, sizeof addr));
	socklen_t al = sizeof addr;
	getsockname(a, (struct sockaddr *)&addr, &al);
	T_CALL("b: bind to lo", setsockopt(b, SOL_SOCKET, SO_BINDTODEVICE, "lo", 2));
	ct_setint(b, SOL_SOCKET, SO_REUSEPORT, 1);
	T_CALL("b: bind the same port", bind(b, (struct sockaddr *)&addr, sizeof addr));
	t_sockname("b", b);
	close(a);
	close(b);
}

int main(void)
{
	one(SOCK_STREAM);
	one(SOCK_DGRAM);
	return 0;
}
