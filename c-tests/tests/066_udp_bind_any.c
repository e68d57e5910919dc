// CHECKS: a UDP socket bound to INADDR_ANY receives datagrams sent to
// 10.7.0.2 and answers from 10.7.0.2; connecting it then fixes the local
// address to 10.7.0.2 while keeping its port.
// PEER: udp 20660 wait:bound sendto:20665:hello recv
// NORMALISED: nothing.
#include "trace.h"

#define P 20660

int main(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in any = ct_addr("0.0.0.0", P + 5);
	T_CALL("bind 0.0.0.0:20665", bind(fd, (struct sockaddr *)&any, sizeof any));
	ct_signal("bound");
	char buf[16];
	struct sockaddr_in from;
	socklen_t fl = sizeof from;
	long n = T_CALL("recvfrom", recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl));
	t_data("  data", buf, n);
	t_log("  from %s", t_addrstr((struct sockaddr *)&from, fl));
	T_CALL("sendto reply", sendto(fd, "reply", 5, 0, (struct sockaddr *)&from, fl));
	t_sockname("getsockname", fd);
	T_CALL("connect", connect(fd, (struct sockaddr *)&from, fl));
	t_sockname("getsockname after connect", fd);
	ct_peer_report(P);
	return 0;
}
