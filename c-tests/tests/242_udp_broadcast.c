// CHECKS: UDP broadcast with SO_BROADCAST: a datagram to the subnet
// broadcast (10.7.0.255) and to 255.255.255.255 goes out by the device (the
// kernel peer bound to 0.0.0.0 receives both) and is delivered locally to
// every socket on the port bound to 0.0.0.0 or to that broadcast address,
// not to one bound to SELF_IP; a broadcast from a socket bound to
// 127.0.0.1 stays on loopback (the peer sees nothing of it); a socket bound
// to the broadcast address sends from SELF_IP.
// PEER: udp 22420 any sink
// NORMALISED: ephemeral ports print as EPHEMERAL; "nothing" is a 300 ms wait.
#include "trace.h"

#define P 22420

static int bound(const char *ip, unsigned port)
{
	int fd = ct_socket(SOCK_DGRAM);
	ct_setint(fd, SOL_SOCKET, SO_REUSEADDR, 1);
	struct sockaddr_in a = ct_addr(ip, port);
	long rc = T_CALL(ip, bind(fd, (struct sockaddr *)&a, sizeof a));
	if (rc < 0)
		exit(1);
	return fd;
}

int main(void)
{
	int any = bound("0.0.0.0", P);
	int self = bound(SELF_IP, P);
	int sub = bound("10.7.0.255", P);
	int all = bound("255.255.255.255", P);
	int s = ct_udp(P + 6);
	ct_setint(s, SOL_SOCKET, SO_BROADCAST, 1);
	struct sockaddr_in b1 = ct_addr("10.7.0.255", P), b2 = ct_addr("255.255.255.255", P);
	T_CALL("sendto 10.7.0.255", sendto(s, "subnet", 6, 0, (struct sockaddr *)&b1, sizeof b1));
	t_recvfrom("bound 0.0.0.0", any, 300);
	t_recvfrom("bound 10.7.0.255", sub, 300);
	t_recvfrom("bound 255.255.255.255", all, 300);
	t_recvfrom("bound SELF_IP", self, 300);
	T_CALL("sendto 255.255.255.255", sendto(s, "limited", 7, 0, (struct sockaddr *)&b2, sizeof b2));
	t_recvfrom("bound 0.0.0.0", any, 300);
	t_recvfrom("bound 10.7.0.255", sub, 300);
	t_recvfrom("bound 255.255.255.255", all, 300);
	t_recvfrom("bound SELF_IP", self, 300);

	int lo = bound("127.0.0.1", P + 7);
	ct_setint(lo, SOL_SOCKET, SO_BROADCAST, 1);
	T_CALL("from 127.0.0.1 sendto 255.255.255.255", sendto(lo, "loop", 4, 0, (struct sockaddr *)&b2, sizeof b2));
	t_recvfrom("bound 0.0.0.0", any, 300);
	t_recvfrom("bound 255.255.255.255", all, 300);

	ct_setint(sub, SOL_SOCKET, SO_BROADCAST, 1);
	T_CALL("from 10.7.0.255 sendto 10.7.0.255", sendto(sub, "from-bcast", 10, 0, (struct sockaddr *)&b1, sizeof b1));
	t_recvfrom("bound 0.0.0.0", any, 300);
	t_recvfrom("bound 10.7.0.255", sub, 300);
	t_recvfrom("bound 255.255.255.255", all, 300);
	ct_sleep_ms(200);
	ct_peer_report(P);
	return 0;
}
