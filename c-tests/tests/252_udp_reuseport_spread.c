// CHECKS: datagrams to a port shared by a SO_REUSEPORT group of 4 UDP
// sockets are spread over the group by flow (400 senders, one datagram
// each: every socket gets some, none gets them all), and one flow always
// reaches the same socket.
// PEER: none
// NORMALISED: counts print only as ranges (the flow hash is Linux's secret).
#include "trace.h"

#define P 22520
#define N 4
#define SENDERS 400

int main(void)
{
	int r[N];
	struct sockaddr_in a = ct_addr(SELF_IP, P);
	for (int i = 0; i < N; i++) {
		r[i] = ct_socket(SOCK_DGRAM);
		ct_setint(r[i], SOL_SOCKET, SO_REUSEPORT, 1);
		if (bind(r[i], (struct sockaddr *)&a, sizeof a) < 0)
			ct_die("bind");
	}
	for (int k = 0; k < SENDERS; k++) {
		int s = ct_udp(0);
		sendto(s, "x", 1, 0, (struct sockaddr *)&a, sizeof a);
		close(s);
	}
	int keep = ct_udp(0);
	for (int k = 0; k < 5; k++)
		sendto(keep, "y", 1, 0, (struct sockaddr *)&a, sizeof a);
	ct_sleep_ms(300);
	int total = 0, ok = 1, ys = 0, y_sockets = 0;
	for (int i = 0; i < N; i++) {
		int n = 0, y = 0;
		char c;
		while (recv(r[i], &c, 1, MSG_DONTWAIT) == 1) {
			if (c == 'y')
				y++;
			else
				n++;
		}
		total += n;
		ys += y;
		y_sockets += y > 0;
		if (n < 50 || n > 150)
			ok = 0;
	}
	t_log("datagrams received: %d of %d", total, SENDERS);
	t_log("every socket got between 50 and 150: %s", ok ? "yes" : "no");
	t_log("one flow's 5 datagrams: %d, on %d socket(s)", ys, y_sockets);
	return 0;
}
