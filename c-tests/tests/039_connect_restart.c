// CHECKS: with an SA_RESTART handler a blocking connect is not interrupted by
// the signal: it keeps waiting and succeeds once the peer makes room in its
// listen queue (after 400 ms) and the SYN is retransmitted (~1 s).
// PEER: tcp 20390 backlog:0 fill:1 accepton:drain recvall
// NORMALISED: nothing.
#include "trace.h"
#include <pthread.h>

#define P 20390

static volatile sig_atomic_t hits;
static void on_alarm(int s) { (void)s; hits++; }

static void *drain(void *arg)
{
	(void)arg;
	ct_sleep_ms(400);
	ct_signal("drain");
	return NULL;
}

int main(void)
{
	ct_sigaction(SIGALRM, on_alarm, SA_RESTART);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = ct_addr(PEER_IP, P);
	pthread_t t;
	pthread_create(&t, NULL, drain, NULL);
	ct_alarm_ms(150);
	T_CALL("connect", connect(fd, (struct sockaddr *)&a, sizeof a));
	T_EQ("handler ran", hits, 1);
	t_peername("getpeername", fd);
	pthread_join(t, NULL);
	return 0;
}
