// CHECKS: one port space on loopback with the kernel's stack (issue 19):
// binds conflict both ways between this program and a process on kernel
// sockets, for loopback and wildcard binds, with and without SO_REUSEADDR
// (TCP and UDP); a bind to 10.7.0.2 does not take the loopback port; an
// ephemeral loopback bind holds its port in the kernel too; close frees it.
// PEER: none
// NORMALISED: the ephemeral port is never printed.
#include "kernel_side.h"

#define P 21800

static int bind_to(int fd, const char *ip, int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	inet_pton(AF_INET, ip, &a.sin_addr);
	return bind(fd, (struct sockaddr *)&a, sizeof a);
}

static int sock(int ty, int reuse)
{
	int fd = socket(AF_INET, ty, 0), one = 1;
	if (fd < 0)
		ct_die("socket");
	if (reuse && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
		ct_die("SO_REUSEADDR");
	return fd;
}

// A kernel process holds `job` on kaddr:port; we try ours.
static void kernel_first(const char *job, const char *kaddr, int kreuse, int ty, const char *ip,
			 int reuse, int port)
{
	int r;
	ks_t k = ks_start(job, kaddr, port, kreuse, &r);
	int fd = sock(ty, reuse);
	char what[128];
	snprintf(what, sizeof what, "kernel %s %s:%d%s, ours %s bind %s%s", job, kaddr, port - P,
		 kreuse ? " REUSEADDR" : "", ty == SOCK_DGRAM ? "udp" : "tcp", ip,
		 reuse ? " REUSEADDR" : "");
	t_log("%s: kernel side %s", what, r ? t_errname(r) : "0");
	T_CALL(what, bind_to(fd, ip, port));
	close(fd);
	ks_stop(k);
}

// We hold a bind; a kernel process tries.
static void ours_first(const char *ip, int reuse, int ty, const char *job, const char *kaddr,
		       int kreuse, int port)
{
	int fd = sock(ty, reuse), r;
	char what[128];
	snprintf(what, sizeof what, "ours %s bind %s:%d%s", ty == SOCK_DGRAM ? "udp" : "tcp", ip,
		 port - P, reuse ? " REUSEADDR" : "");
	T_CALL(what, bind_to(fd, ip, port));
	ks_t k = ks_start(job, kaddr, port, kreuse, &r);
	t_log("  then kernel %s %s%s = %s", job, kaddr, kreuse ? " REUSEADDR" : "",
	      r ? t_errname(r) : "0");
	ks_stop(k);
	close(fd);
}

int main(int argc, char **argv)
{
	ks_main(argc, argv);
	kernel_first("bind", "127.0.0.1", 0, SOCK_STREAM, "127.0.0.1", 0, P + 1);
	kernel_first("bind", "127.0.0.1", 0, SOCK_STREAM, "0.0.0.0", 0, P + 2);
	kernel_first("bind", "127.0.0.1", 0, SOCK_STREAM, "127.0.0.1", 1, P + 3);
	kernel_first("bind", "127.0.0.1", 1, SOCK_STREAM, "127.0.0.1", 1, P + 4);
	kernel_first("bind", "127.0.0.1", 1, SOCK_STREAM, "0.0.0.0", 1, P + 5);
	kernel_first("listen", "127.0.0.1", 1, SOCK_STREAM, "127.0.0.1", 1, P + 6);
	kernel_first("listen", "0.0.0.0", 0, SOCK_STREAM, "127.0.0.1", 0, P + 7);
	kernel_first("ubind", "127.0.0.1", 0, SOCK_DGRAM, "127.0.0.1", 0, P + 8);
	kernel_first("ubind", "127.0.0.1", 1, SOCK_DGRAM, "0.0.0.0", 1, P + 9);
	kernel_first("bind", "127.0.0.1", 0, SOCK_STREAM, SELF_IP, 0, P + 10);

	ours_first("127.0.0.1", 0, SOCK_STREAM, "bind", "127.0.0.1", 0, P + 11);
	ours_first("0.0.0.0", 0, SOCK_STREAM, "bind", "127.0.0.1", 0, P + 12);
	ours_first("0.0.0.0", 0, SOCK_STREAM, "bind", "0.0.0.0", 0, P + 13);
	ours_first("127.0.0.1", 1, SOCK_STREAM, "bind", "127.0.0.1", 0, P + 14);
	ours_first("127.0.0.1", 1, SOCK_STREAM, "bind", "127.0.0.1", 1, P + 15);
	ours_first("127.0.0.1", 0, SOCK_DGRAM, "ubind", "127.0.0.1", 0, P + 16);
	ours_first(SELF_IP, 0, SOCK_STREAM, "bind", "127.0.0.1", 0, P + 17);

	// An ephemeral loopback bind holds its port in the kernel too.
	int fd = sock(SOCK_STREAM, 0), r;
	T_CALL("ours bind 127.0.0.1:0", bind_to(fd, "127.0.0.1", 0));
	struct sockaddr_in a;
	socklen_t al = sizeof a;
	getsockname(fd, (struct sockaddr *)&a, &al);
	int port = ntohs(a.sin_port);
	ks_t k = ks_start("bind", "127.0.0.1", port, 0, &r);
	t_log("  then kernel bind 127.0.0.1:<that port> = %s", r ? t_errname(r) : "0");
	ks_stop(k);
	T_CALL("close ours", close(fd));
	k = ks_start("bind", "127.0.0.1", port, 0, &r);
	t_log("  then kernel bind 127.0.0.1:<that port> = %s", r ? t_errname(r) : "0");
	ks_stop(k);
	return 0;
}
