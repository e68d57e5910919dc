// CHECKS: 8 MiB from the peer to A (peer sends then closes; A reads with a
// 7919-byte buffer) and 8 MiB from A to the peer (blocking writes of 100 KiB,
// then close; the peer reports count and checksum). Flow control both ways.
// PEER: tcp 20520 sendn:8388608 close
// PEER: tcp 20522 recvall
// NORMALISED: nothing.
#include "trace.h"

#define P 20520
#define TOTAL (8L << 20)

int main(void)
{
	int fd = ct_connect(P);
	static char buf[102400];
	long got = 0;
	uint32_t sum = CT_SUM_INIT;
	int bad = 0;
	for (;;) {
		ssize_t r = recv(fd, buf, 7919, 0);
		if (r < 0)
			ct_die("recv");
		if (r == 0)
			break;
		static char want[7919];
		ct_pattern(want, r, got);
		bad |= memcmp(want, buf, r) != 0;
		sum = ct_sum(sum, buf, r);
		got += r;
	}
	t_log("received %ld bytes sum %08x", got, sum);
	t_check("data intact", !bad);
	close(fd);

	fd = ct_connect(P + 2);
	long sent = 0;
	sum = CT_SUM_INIT;
	while (sent < TOTAL) {
		ct_pattern(buf, sizeof buf, sent);
		long k = TOTAL - sent < (long)sizeof buf ? TOTAL - sent : (long)sizeof buf;
		ssize_t w = send(fd, buf, k, 0);
		if (w <= 0)
			ct_die("send");
		sum = ct_sum(sum, buf, w);
		sent += w;
	}
	t_log("sent %ld bytes sum %08x", sent, sum);
	T_CALL("close", close(fd));
	ct_peer_report(P + 2);
	return 0;
}
