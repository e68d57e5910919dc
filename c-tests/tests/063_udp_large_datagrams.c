// CHECKS: UDP datagrams that need IP fragmentation (1473, 8000 and 65507
// bytes, MTU 1500) reach the peer whole; 1472 bytes fits one packet.
// PEER: udp 20630 sink
// NORMALISED: nothing.
#include "trace.h"

#define P 20630

int main(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = ct_addr(PEER_IP, P);
	static char big[65507];
	ct_pattern(big, sizeof big, 0);
	long sizes[] = { 1472, 1473, 8000, 65507 };
	for (int i = 0; i < 4; i++) {
		char what[32];
		snprintf(what, sizeof what, "sendto %ld", sizes[i]);
		T_CALL(what, sendto(fd, big, sizes[i], 0, (struct sockaddr *)&a, sizeof a));
		ct_sleep_ms(20);
	}
	ct_peer_report(P);
	return 0;
}
