// CHECKS: sending to a broadcast address without SO_BROADCAST is refused
// with EACCES before anything is sent (10.7.0.255 and 255.255.255.255 with
// sendto, 10.7.0.255 with UDP connect); TCP connect to 255.255.255.255 is
// ENETUNREACH; SO_BROADCAST defaults to 0.
// Nothing is ever sent with SO_BROADCAST set (network rule).
// PEER: none
// NORMALISED: nothing.
#include "trace.h"

int main(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	T_EQ("SO_BROADCAST", ct_getint(fd, SOL_SOCKET, SO_BROADCAST), 0);
	struct sockaddr_in a = ct_addr("10.7.0.255", 20610), b = ct_addr("255.255.255.255", 20610);
	T_CALL("sendto 10.7.0.255", sendto(fd, "x", 1, 0, (struct sockaddr *)&a, sizeof a));
	T_CALL("sendto 255.255.255.255", sendto(fd, "x", 1, 0, (struct sockaddr *)&b, sizeof b));
	int c = socket(AF_INET, SOCK_DGRAM, 0);
	T_CALL("connect 10.7.0.255", connect(c, (struct sockaddr *)&a, sizeof a));
	T_CALL("send", send(c, "x", 1, 0));
	int t = socket(AF_INET, SOCK_STREAM, 0);
	T_CALL("tcp connect 255.255.255.255", connect(t, (struct sockaddr *)&b, sizeof b));
	return 0;
}
