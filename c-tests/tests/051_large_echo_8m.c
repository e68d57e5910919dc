// CHECKS: 8 MiB through the echo peer with a non-blocking poll loop
// (sending and receiving at once); the returned stream is intact.
// PEER: tcp 20510 echo
// NORMALISED: nothing (byte counts per call are not printed).
#include "trace.h"

#define P 20510
#define TOTAL (8L << 20)

int main(void)
{
	int fd = ct_connect(P);
	ct_set_nonblock(fd, 1);
	static char out[65536], in[65536];
	long sent = 0, got = 0;
	uint32_t sum_out = CT_SUM_INIT, sum_in = CT_SUM_INIT;
	int bad = 0;
	while (got < TOTAL) {
		struct pollfd p = { .fd = fd, .events = POLLIN | (sent < TOTAL ? POLLOUT : 0) };
		if (poll(&p, 1, 10000) <= 0)
			ct_die("poll stalled at sent %ld got %ld", sent, got);
		if ((p.revents & POLLOUT) && sent < TOTAL) {
			long k = TOTAL - sent < (long)sizeof out ? TOTAL - sent : (long)sizeof out;
			ct_pattern(out, k, sent);
			ssize_t w = send(fd, out, k, 0);
			if (w > 0) {
				sum_out = ct_sum(sum_out, out, w);
				sent += w;
			} else if (errno != EAGAIN) {
				ct_die("send");
			}
		}
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t r = recv(fd, in, sizeof in, 0);
			if (r > 0) {
				static char want[65536];
				ct_pattern(want, r, got);
				if (memcmp(want, in, r))
					bad = 1;
				sum_in = ct_sum(sum_in, in, r);
				got += r;
			} else if (r == 0 || errno != EAGAIN) {
				ct_die("recv");
			}
		}
	}
	t_log("sent %ld received %ld", sent, got);
	t_log("checksum sent %08x received %08x", sum_out, sum_in);
	t_check("data intact", !bad);
	T_CALL("shutdown WR", shutdown(fd, SHUT_WR));
	ct_set_nonblock(fd, 0);
	T_CALL("recv EOF", recv(fd, in, 1, 0));
	close(fd);
	ct_peer_report(P);
	return 0;
}
