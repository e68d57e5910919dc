// CHECKS: SO_RCVLOWAT 10: poll does not report POLLIN while only 5 bytes
// are queued, and does once 10 are; a blocking recv waits for 10 bytes;
// SO_RCVLOWAT 0 reads back as 1; a negative value means INT_MAX, capped
// at net.ipv4.tcp_rmem[2] / 2.
// PEER: tcp 21210 send:12345 wait:more send:67890 wait:done
// NORMALISED: nothing.
#include "trace.h"

#define P 21210

int main(void)
{
	int fd = ct_connect(P);
	T_CALL("set SO_RCVLOWAT 10", setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &(int){ 10 }, sizeof(int)));
	T_EQ("SO_RCVLOWAT", ct_getint(fd, SOL_SOCKET, SO_RCVLOWAT), 10);
	ct_wait_bytes(fd, 5, 5000);
	struct pollfd p = { .fd = fd, .events = POLLIN };
	T_CALL("poll with 5 queued", poll(&p, 1, 100));
	ct_signal("more");
	t_revents("poll until 10 queued", ct_wait_event(fd, POLLIN, POLLIN, 5000));
	char buf[16];
	long n = T_CALL("recv", recv(fd, buf, sizeof buf, 0));
	t_data("  data", buf, n);
	T_CALL("set SO_RCVLOWAT 0", setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &(int){ 0 }, sizeof(int)));
	T_EQ("SO_RCVLOWAT", ct_getint(fd, SOL_SOCKET, SO_RCVLOWAT), 1);
	T_CALL("set SO_RCVLOWAT -5", setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &(int){ -5 }, sizeof(int)));
	t_log("SO_RCVLOWAT = %d (capped at tcp_rmem[2] / 2)", ct_getint(fd, SOL_SOCKET, SO_RCVLOWAT));
	ct_signal("done");
	return 0;
}
