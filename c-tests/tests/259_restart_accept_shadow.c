// CHECKS: a blocking accept on a listener that covers loopback (0.0.0.0,
// which under the shim has a kernel shadow listener, issue 19) is
// restarted after a SA_RESTART signal (SIGALRM at 100 ms) and returns the
// connection made at 300 ms, from this program or from a process on
// kernel sockets; without SA_RESTART it fails with EINTR.
// PEER: none
// NORMALISED: nothing.
#include "kernel_side.h"
#include <pthread.h>

#define P 22590

static volatile sig_atomic_t hits;
static void on_alarm(int s) { (void)s; hits++; }

// The client socket is made before the accept: an fd taken while an accept
// blocks would differ (Linux reserves the accepted fd before it waits).
static int c;

static void *connect_later(void *arg)
{
	(void)arg;
	ct_sleep_ms(300);
	struct sockaddr_in a = ct_addr("127.0.0.1", P);
	if (connect(c, (struct sockaddr *)&a, sizeof a) < 0)
		ct_die("connect");
	ct_sleep_ms(500);
	close(c);
	return NULL;
}

static void block_alarm(int on)
{
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGALRM);
	pthread_sigmask(on ? SIG_BLOCK : SIG_UNBLOCK, &s, NULL);
}

int main(int argc, char **argv)
{
	ks_main(argc, argv);
	int l = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = ct_addr("0.0.0.0", P);
	T_CALL("bind 0.0.0.0", bind(l, (struct sockaddr *)&a, sizeof a));
	T_CALL("listen", listen(l, 8));

	ct_sigaction(SIGALRM, on_alarm, SA_RESTART);
	block_alarm(1);
	c = socket(AF_INET, SOCK_STREAM, 0);
	pthread_t t;
	pthread_create(&t, NULL, connect_later, NULL);
	block_alarm(0);
	ct_alarm_ms(100);
	int s = T_CALL("SA_RESTART, a client here: accept", accept(l, NULL, NULL));
	T_EQ("handler ran", hits, 1);
	pthread_join(t, NULL);
	close(s);

	int r;
	ks_t k = ks_start("dconnect", "127.0.0.1", P, 300, &r);
	ct_alarm_ms(100);
	ks_serve("SA_RESTART, a kernel client: accept", l);
	T_EQ("handler ran", hits, 2);
	t_log("kernel client connect: %s", t_errname(ks_next(k)));
	ks_stop(k);

	ct_sigaction(SIGALRM, on_alarm, 0);
	ct_alarm_ms(100);
	T_CALL("no SA_RESTART: accept", accept(l, NULL, NULL));
	T_EQ("handler ran", hits, 3);
	return 0;
}
