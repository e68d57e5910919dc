// CHECKS: FIONREAD / SIOCINQ count queued bytes; SIOCOUTQ drains to 0 once
// the peer has acknowledged what A sent; on a listener both are EINVAL; on a
// fresh socket FIONREAD is 0; on a regular file FIONREAD works.
// PEER: tcp 20530 send:abcdefghij wait:done recvall
// NORMALISED: nothing (SIOCOUTQ is only printed once it has reached 0).
#include "trace.h"

#define P 20530

int main(void)
{
	int v = -1;
	int fresh = socket(AF_INET, SOCK_STREAM, 0);
	T_CALL("FIONREAD fresh", ioctl(fresh, FIONREAD, &v));
	t_log("  value = %d", v);
	v = -1;
	T_CALL("SIOCOUTQ fresh", ioctl(fresh, SIOCOUTQ, &v));
	t_log("  value = %d", v);
	int l = ct_listen(P + 5, 5);
	T_CALL("FIONREAD listener", ioctl(l, FIONREAD, &v));
	T_CALL("SIOCOUTQ listener", ioctl(l, SIOCOUTQ, &v));

	int fd = ct_connect(P);
	ct_wait_bytes(fd, 10, 5000);
	T_CALL("FIONREAD", ioctl(fd, FIONREAD, &v));
	t_log("  value = %d", v);
	T_CALL("SIOCINQ", ioctl(fd, SIOCINQ, &v));
	t_log("  value = %d", v);
	char buf[4];
	recv(fd, buf, 3, 0);
	T_CALL("FIONREAD after reading 3", ioctl(fd, FIONREAD, &v));
	t_log("  value = %d", v);
	ct_signal("done");
	static char big[1000];
	send(fd, big, sizeof big, 0);
	long end = ct_now_ms() + 5000;
	do {
		ioctl(fd, SIOCOUTQ, &v);
	} while (v != 0 && ct_now_ms() < end && (ct_sleep_ms(2), 1));
	t_log("SIOCOUTQ drains to 0: %s", v == 0 ? "yes" : "NO");
	T_CALL("FIONREAD bad pointer", ioctl(fd, FIONREAD, (int *)ct_bad_ptr()));
	recv(fd, buf, 4, 0);
	recv(fd, buf, 3, 0);
	T_CALL("FIONREAD drained", ioctl(fd, FIONREAD, &v));
	t_log("  value = %d", v);
	close(fd);
	ct_peer_report(P);
	return 0;
}
