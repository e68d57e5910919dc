// CHECKS: SIOCGSTAMP / SIOCGSTAMPNS as Linux's sk_stamp: ENOENT before any
// datagram was read (and on TCP); after an untimed read, the time of the
// first ioctl, kept; a datagram read with SO_TIMESTAMP on leaves it alone
// (its time goes to the control message); with SO_TIMESTAMP off again, the
// next datagram's arrival (the ioctl turned keeping on); SIOCGSTAMPNS is
// the same time in nanoseconds.
// PEER: none
// NORMALISED: times print only as comparisons (within 5 s of now, equal,
// not earlier).
#include "trace.h"
#include <linux/sockios.h>

#define P 22470

static long long us(struct timeval tv)
{
	return tv.tv_sec * 1000000LL + tv.tv_usec;
}

static void one(int r, int s, struct sockaddr_in *to, const char *text)
{
	T_CALL("send", sendto(s, text, strlen(text), 0, (struct sockaddr *)to, sizeof *to));
	char buf[16], cbuf[64];
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof buf };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf };
	if (!ct_wait_event(r, POLLIN, POLLIN, 5000))
		t_log("nothing arrived");
	long n = T_CALL("recvmsg", recvmsg(r, &m, MSG_DONTWAIT));
	t_data("  data", buf, n);
	t_log("  control messages: %s", m.msg_controllen ? "yes" : "none");
}

int main(void)
{
	int t = socket(AF_INET, SOCK_STREAM, 0);
	struct timeval tv, tv2;
	T_CALL("tcp SIOCGSTAMP", ioctl(t, SIOCGSTAMP, &tv));
	int r = ct_udp(P);
	int s = ct_udp(0);
	struct sockaddr_in to = ct_addr(SELF_IP, P);
	T_CALL("SIOCGSTAMP, nothing read", ioctl(r, SIOCGSTAMP, &tv));
	one(r, s, &to, "one");
	T_CALL("SIOCGSTAMP", ioctl(r, SIOCGSTAMP, &tv));
	struct timeval now;
	gettimeofday(&now, NULL);
	t_log("  within 5 s of now: %s", (us(now) - us(tv) >= 0 && us(now) - us(tv) < 5000000) ? "yes" : "no");
	ct_sleep_ms(20);
	T_CALL("SIOCGSTAMP again", ioctl(r, SIOCGSTAMP, &tv2));
	t_log("  same: %s", us(tv) == us(tv2) ? "yes" : "no");
	struct timespec ts;
	T_CALL("SIOCGSTAMPNS", ioctl(r, SIOCGSTAMPNS, &ts));
	t_log("  same time: %s", (ts.tv_sec == tv.tv_sec && ts.tv_nsec / 1000 == tv.tv_usec) ? "yes" : "no");
	ct_setint(r, SOL_SOCKET, SO_TIMESTAMP, 1);
	one(r, s, &to, "two");
	T_CALL("SIOCGSTAMP after a timed read", ioctl(r, SIOCGSTAMP, &tv2));
	t_log("  same: %s", us(tv) == us(tv2) ? "yes" : "no");
	ct_setint(r, SOL_SOCKET, SO_TIMESTAMP, 0);
	ct_sleep_ms(20);
	one(r, s, &to, "three");
	T_CALL("SIOCGSTAMP after an untimed read", ioctl(r, SIOCGSTAMP, &tv2));
	t_log("  later: %s", us(tv2) > us(tv) ? "yes" : "no");
	return 0;
}
