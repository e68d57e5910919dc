// CHECKS: ioctl(SIOCOUTQNSD), a TCP socket's bytes written but not yet
// sent, as Linux's tcp_ioctl: 0 on a fresh socket, EINVAL on a listener,
// ENOTTY on a UDP socket; once the peer's window is full the unsent bytes
// are some of the unacknowledged ones (SIOCOUTQ), and both drain to 0
// when the peer reads.
// PEER: tcp 23610 rcvbuf:32768 wait:read recvall
// NORMALISED: byte counts print only as comparisons.
#include "trace.h"

#define P 23610

int main(void)
{
	int v = -1;
	int fresh = ct_socket(SOCK_STREAM);
	T_CALL("SIOCOUTQNSD fresh", ioctl(fresh, SIOCOUTQNSD, &v));
	t_log("  value = %d", v);
	int l = ct_listen(P + 5, 1);
	T_CALL("SIOCOUTQNSD listener", ioctl(l, SIOCOUTQNSD, &v));
	int u = ct_udp(0);
	T_CALL("SIOCOUTQNSD udp", ioctl(u, SIOCOUTQNSD, &v));

	int fd = ct_connect_small(P);
	ct_fill(fd);
	int unsent = -1, unacked = -1;
	T_CALL("SIOCOUTQNSD full", ioctl(fd, SIOCOUTQNSD, &unsent));
	T_CALL("SIOCOUTQ full", ioctl(fd, SIOCOUTQ, &unacked));
	t_log("  unsent > 0: %s", unsent > 0 ? "yes" : "no");
	t_log("  unsent <= unacknowledged: %s", unsent <= unacked ? "yes" : "no");
	ct_signal("read");
	long end = ct_now_ms() + 5000;
	do {
		ioctl(fd, SIOCOUTQ, &unacked);
		ioctl(fd, SIOCOUTQNSD, &unsent);
	} while ((unacked || unsent) && ct_now_ms() < end && (ct_sleep_ms(5), 1));
	t_log("both drain to 0: %s", unacked == 0 && unsent == 0 ? "yes" : "no");
	close(fd);
	close(u);
	close(l);
	close(fresh);
	return 0;
}
