// CHECKS: connections to a group of SO_REUSEPORT TCP listeners are spread
// over all of them by the flow's hash (Linux's reuseport_select_sock):
// 60 loopback connections to three listeners, each listener's queue
// holds some of them and together all 60; the same over the device
// address with a wildcard group.
// PEER: none
// NORMALISED: only "some" per listener is printed (the ephemeral ports,
// hence the hash, differ from run to run; all 60 on one listener would
// have probability 3 * (1/3)^60).
#include "trace.h"

#define P 22780
#define N 60

static void spread(const char *what, const char *bind_ip, const char *to_ip, unsigned port)
{
	t_log("== %s", what);
	int l[3];
	struct sockaddr_in a = ct_addr(bind_ip, port);
	for (int i = 0; i < 3; i++) {
		l[i] = ct_socket(SOCK_STREAM);
		ct_setint(l[i], SOL_SOCKET, SO_REUSEPORT, 1);
		if (bind(l[i], (struct sockaddr *)&a, sizeof a) < 0 || listen(l[i], 128) < 0)
			ct_die("bind/listen %d", i);
		ct_set_nonblock(l[i], 1);
	}
	int c[N];
	struct sockaddr_in to = ct_addr(to_ip, port);
	for (int i = 0; i < N; i++) {
		c[i] = ct_socket(SOCK_STREAM);
		if (connect(c[i], (struct sockaddr *)&to, sizeof to) < 0)
			ct_die("connect %d", i);
	}
	int total = 0;
	for (int i = 0; i < 3; i++) {
		int n = 0;
		for (int tries = 0; tries < 50; tries++) {
			int fd = accept(l[i], NULL, NULL);
			if (fd >= 0) {
				n++;
				close(fd);
				tries = 0;
				continue;
			}
			if (errno != EAGAIN)
				ct_die("accept");
			if (total + n == N)
				break;
			ct_sleep_ms(10);
		}
		t_log("listener %d accepted some: %s", i, n > 0 ? "yes" : "no");
		total += n;
	}
	T_EQ("accepted in all", total, N);
	for (int i = 0; i < N; i++)
		close(c[i]);
	for (int i = 0; i < 3; i++)
		close(l[i]);
}

int main(void)
{
	spread("loopback", "127.0.0.1", "127.0.0.1", P);
	spread("wildcard, to our address", "0.0.0.0", SELF_IP, P + 5);
	return 0;
}
