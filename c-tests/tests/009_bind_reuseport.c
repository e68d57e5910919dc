// CHECKS: SO_REUSEPORT: two sockets with it may bind and listen on the same
// port; a third without it may not; getsockopt reads it back.
// PEER: none
// NORMALISED: nothing.
#include "trace.h"

#define P 20090

int main(void)
{
	int s[3];
	struct sockaddr_in a = ct_addr(SELF_IP, P);
	for (int i = 0; i < 2; i++) {
		s[i] = socket(AF_INET, SOCK_STREAM, 0);
		T_CALL("setsockopt SO_REUSEPORT", setsockopt(s[i], SOL_SOCKET, SO_REUSEPORT, &(int){ 1 }, sizeof(int)));
		T_EQ("getsockopt SO_REUSEPORT", ct_getint(s[i], SOL_SOCKET, SO_REUSEPORT), 1);
		T_CALL("bind", bind(s[i], (struct sockaddr *)&a, sizeof a));
		T_CALL("listen", listen(s[i], 5));
	}
	s[2] = socket(AF_INET, SOCK_STREAM, 0);
	T_CALL("bind without SO_REUSEPORT", bind(s[2], (struct sockaddr *)&a, sizeof a));

	int u1 = socket(AF_INET, SOCK_DGRAM, 0), u2 = socket(AF_INET, SOCK_DGRAM, 0);
	ct_setint(u1, SOL_SOCKET, SO_REUSEPORT, 1);
	ct_setint(u2, SOL_SOCKET, SO_REUSEPORT, 1);
	T_CALL("udp u1 bind", bind(u1, (struct sockaddr *)&a, sizeof a));
	T_CALL("udp u2 bind", bind(u2, (struct sockaddr *)&a, sizeof a));
	return 0;
}
