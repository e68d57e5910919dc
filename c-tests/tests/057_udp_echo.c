// CHECKS: UDP sendto/recvfrom with the echo peer: source address, fromlen
// handling (NULL, short, exact), datagram boundaries kept.
// PEER: udp 20570 echo
// NORMALISED: nothing.
#include "trace.h"

#define P 20570

int main(void)
{
	int fd = T_CALL("socket", socket(AF_INET, SOCK_DGRAM, 0));
	struct sockaddr_in a = ct_addr(PEER_IP, P);
	T_CALL("sendto one", sendto(fd, "one", 3, 0, (struct sockaddr *)&a, sizeof a));
	T_CALL("sendto twotwo", sendto(fd, "twotwo", 6, 0, (struct sockaddr *)&a, sizeof a));
	T_CALL("sendto three", sendto(fd, "three", 5, 0, (struct sockaddr *)&a, sizeof a));
	char buf[64];
	struct sockaddr_in from;
	socklen_t fl = sizeof from;
	long n = T_CALL("recvfrom", recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl));
	t_data("  data", buf, n);
	t_log("  from %s len %u", t_addrstr((struct sockaddr *)&from, fl), (unsigned)fl);
	n = T_CALL("recvfrom NULL addr", recvfrom(fd, buf, sizeof buf, 0, NULL, NULL));
	t_data("  data", buf, n);
	unsigned char sb[32];
	memset(sb, 0xee, sizeof sb);
	fl = 4;
	n = T_CALL("recvfrom addrlen 4", recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)sb, &fl));
	t_data("  data", buf, n);
	t_log("  fromlen = %u bytes = %02x %02x %02x %02x %02x", (unsigned)fl, sb[0], sb[1], sb[2], sb[3], sb[4]);
	T_CALL("recvfrom DONTWAIT empty", recvfrom(fd, buf, sizeof buf, MSG_DONTWAIT, NULL, NULL));
	return 0;
}
