// CHECKS: sendmmsg of 3 UDP datagrams returns 3 and sets msg_len; recvmmsg
// of 3 (blocking) returns 3 echoed datagrams with their lengths and source
// addresses; recvmmsg MSG_DONTWAIT on an empty queue is EAGAIN.
// PEER: udp 20490 echo
// NORMALISED: nothing.
#include "trace.h"

#define P 20490

int main(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = ct_addr(PEER_IP, P);
	const char *txt[3] = { "first", "second!", "3" };
	struct iovec iov[3];
	struct mmsghdr mm[3];
	memset(mm, 0, sizeof mm);
	for (int i = 0; i < 3; i++) {
		iov[i].iov_base = (void *)txt[i];
		iov[i].iov_len = strlen(txt[i]);
		mm[i].msg_hdr.msg_iov = &iov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
		mm[i].msg_hdr.msg_name = &a;
		mm[i].msg_hdr.msg_namelen = sizeof a;
	}
	T_CALL("sendmmsg", sendmmsg(fd, mm, 3, 0));
	for (int i = 0; i < 3; i++)
		t_log("  msg_len[%d] = %u", i, mm[i].msg_len);
	char bufs[3][32];
	struct sockaddr_in from[3];
	struct iovec riov[3];
	struct mmsghdr rm[3];
	memset(rm, 0, sizeof rm);
	for (int i = 0; i < 3; i++) {
		riov[i].iov_base = bufs[i];
		riov[i].iov_len = sizeof bufs[i];
		rm[i].msg_hdr.msg_iov = &riov[i];
		rm[i].msg_hdr.msg_iovlen = 1;
		rm[i].msg_hdr.msg_name = &from[i];
		rm[i].msg_hdr.msg_namelen = sizeof from[i];
	}
	long n = T_CALL("recvmmsg 3", recvmmsg(fd, rm, 3, 0, NULL));
	for (int i = 0; i < n; i++) {
		t_log("  [%d] len %u from %s", i, rm[i].msg_len,
		      t_addrstr((struct sockaddr *)&from[i], rm[i].msg_hdr.msg_namelen));
		t_data("      data", bufs[i], rm[i].msg_len);
	}
	T_CALL("recvmmsg DONTWAIT empty", recvmmsg(fd, rm, 3, MSG_DONTWAIT, NULL));
	T_CALL("sendmmsg vlen 0", sendmmsg(fd, mm, 0, 0));
	return 0;
}
