// CHECKS: recvmmsg's timeout as Linux's do_recvmmsg: an invalid one
// (negative, tv_nsec past a second) is EINVAL before anything is read; it
// is checked after each datagram (a zero timeout returns after the first)
// and what is left is written back when datagrams came; MSG_DONTWAIT ends
// the batch at an empty queue.
// PEER: none
// NORMALISED: the time left prints only as a range.
#include "trace.h"

#define P 22480

int main(void)
{
	int r = ct_udp(P);
	int s = ct_udp(0);
	struct sockaddr_in to = ct_addr(SELF_IP, P);
	char bufs[5][8];
	struct iovec iov[5];
	struct mmsghdr mm[5];
	memset(mm, 0, sizeof mm);
	for (int i = 0; i < 5; i++) {
		iov[i].iov_base = bufs[i];
		iov[i].iov_len = sizeof bufs[i];
		mm[i].msg_hdr.msg_iov = &iov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
	}
	struct timespec bad = { -1, -1 }, bad2 = { 0, 1000000000 };
	T_CALL("timeout {-1,-1}", recvmmsg(r, mm, 5, MSG_DONTWAIT, &bad));
	T_CALL("timeout {0,1e9}", recvmmsg(r, mm, 5, MSG_DONTWAIT, &bad2));
	for (int i = 0; i < 3; i++)
		sendto(s, "abc", 3, 0, (struct sockaddr *)&to, sizeof to);
	ct_wait_bytes(r, 3, 5000);
	ct_sleep_ms(100);
	struct timespec t5 = { 5, 0 };
	T_CALL("3 queued, vlen 5, MSG_DONTWAIT, 5 s", recvmmsg(r, mm, 5, MSG_DONTWAIT, &t5));
	t_log("  left between 4 and 5 s: %s", (t5.tv_sec == 4 && t5.tv_nsec > 0) ? "yes" : "no");
	struct timespec t0 = { 0, 0 };
	T_CALL("nothing queued, MSG_DONTWAIT, 0 s", recvmmsg(r, mm, 5, MSG_DONTWAIT, &t0));
	for (int i = 0; i < 2; i++)
		sendto(s, "de", 2, 0, (struct sockaddr *)&to, sizeof to);
	ct_wait_bytes(r, 2, 5000);
	ct_sleep_ms(100);
	t0.tv_sec = 0;
	t0.tv_nsec = 0;
	T_CALL("2 queued, vlen 5, blocking, 0 s", recvmmsg(r, mm, 5, 0, &t0));
	t_log("  left {%ld,%ld}", (long)t0.tv_sec, (long)t0.tv_nsec);
	T_CALL("1 left, MSG_DONTWAIT", recvmmsg(r, mm, 5, MSG_DONTWAIT, NULL));
	return 0;
}
