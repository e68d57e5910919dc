// CHECKS: MSG_WAITALL waits for the whole length while the peer trickles
// 1000 bytes in 100-byte pieces 20 ms apart; the data is intact.
// PEER: tcp 20430 wait:go trickle:1000:100:20 wait:done
// NORMALISED: nothing.
#include "trace.h"

#define P 20430

int main(void)
{
	int fd = ct_connect(P);
	ct_signal("go");
	char buf[1000], want[1000];
	long n = T_CALL("recv 1000 WAITALL", recv(fd, buf, sizeof buf, MSG_WAITALL));
	ct_pattern(want, sizeof want, 0);
	t_check("data intact", n == 1000 && memcmp(buf, want, 1000) == 0);
	ct_signal("done");
	return 0;
}
