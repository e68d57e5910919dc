// CHECKS: the control messages recvmsg gives a UDP datagram, in Linux's
// order and layout: SO_TIMESTAMP (timeval) or SO_TIMESTAMPNS (timespec),
// IP_PKTINFO (ifindex, spec_dst, header destination), IP_TTL, IP_TOS (one
// byte), IP_ORIGDSTADDR; for a datagram over loopback (TTL and TOS as the
// sender set them) and one from the peer by the device;
// a control buffer too short for all of them is cut (MSG_CTRUNC) as
// put_cmsg cuts it; no option, no control message.
// PEER: udp 22440 wait:go sendto:22445:from-peer
// NORMALISED: timestamps print only as "within 5 s of now"; the device's
// interface index prints as "device" (it differs between the halves).
#include "trace.h"

#define P 22440

int main(void)
{
	int r = ct_socket(SOCK_DGRAM);
	struct sockaddr_in ra = ct_addr("0.0.0.0", P + 5);
	if (bind(r, (struct sockaddr *)&ra, sizeof ra) < 0)
		ct_die("bind");
	int s = ct_udp(0);
	struct sockaddr_in lo = ct_addr("127.0.0.1", P + 5);
	T_CALL("sendto 127.0.0.1, no options", sendto(s, "plain", 5, 0, (struct sockaddr *)&lo, sizeof lo));
	t_recvmsg_cmsgs("recvmsg", r, 512);

	ct_setint(r, SOL_SOCKET, SO_TIMESTAMP, 1);
	ct_setint(r, IPPROTO_IP, IP_PKTINFO, 1);
	ct_setint(r, IPPROTO_IP, IP_RECVTTL, 1);
	ct_setint(r, IPPROTO_IP, IP_RECVTOS, 1);
	ct_setint(r, IPPROTO_IP, IP_RECVORIGDSTADDR, 1);
	ct_setint(s, IPPROTO_IP, IP_TTL, 33);
	ct_setint(s, IPPROTO_IP, IP_TOS, 0x28);
	T_CALL("sendto 127.0.0.1, TTL 33 TOS 0x28", sendto(s, "loop", 4, 0, (struct sockaddr *)&lo, sizeof lo));
	t_recvmsg_cmsgs("recvmsg", r, 512);
	T_CALL("sendto 127.0.0.1 again", sendto(s, "cut", 3, 0, (struct sockaddr *)&lo, sizeof lo));
	t_recvmsg_cmsgs("recvmsg, 60 bytes of room", r, 60);
	T_CALL("sendto 127.0.0.1 again", sendto(s, "none", 4, 0, (struct sockaddr *)&lo, sizeof lo));
	t_recvmsg_cmsgs("recvmsg, no control buffer", r, 0);

	ct_setint(r, SOL_SOCKET, SO_TIMESTAMPNS, 1);
	ct_setint(r, IPPROTO_IP, IP_RECVTOS, 0);
	ct_signal("go");
	t_recvmsg_cmsgs("recvmsg from the peer", r, 512);

	return 0;
}
