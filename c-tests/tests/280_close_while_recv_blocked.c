// CHECKS: close() of a TCP socket while another thread is blocked in recv()
// on it: the close returns 0 at once, the recv stays blocked (the call
// holds its own reference to the socket), the connection stays open, and
// the recv later returns the data the peer sends after the close; only
// when that recv returns does the last reference go, and the peer sees EOF
// (not a reset). The same with a blocking accept() on a listener closed
// meanwhile: the connection made afterwards is accepted.
// PEER: tcp 22800 wait:closed send:hello recvall
// PEER: connect 22805 after:lclosed recvall
// NORMALISED: ephemeral ports print as EPHEMERAL; the close happens once the
// other thread has made its call, 200 ms later and once it sleeps.
#include "trace.h"
#include <pthread.h>

#define P 22800

static int fd, lfd;
static long got;
static int got_errno, done, tid;
static char buf[64];

static void *receiver(void *arg)
{
	(void)arg;
	errno = 0;
	ct_note_thread(&tid);
	got = recv(fd, buf, sizeof buf, 0);
	got_errno = errno;
	__atomic_store_n(&done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static void *acceptor(void *arg)
{
	(void)arg;
	struct sockaddr_in a;
	socklen_t n = sizeof a;
	errno = 0;
	ct_note_thread(&tid);
	got = accept(lfd, (struct sockaddr *)&a, &n);
	got_errno = errno;
	__atomic_store_n(&done, 1, __ATOMIC_SEQ_CST);
	if (got >= 0)
		t_log("accepted from %s", t_addrstr((struct sockaddr *)&a, n));
	return NULL;
}

int main(void)
{
	fd = ct_connect(P);
	pthread_t t;
	pthread_create(&t, NULL, receiver, NULL);
	ct_wait_blocked(&tid, 200);
	T_CALL("close while another thread is in recv", close(fd));
	ct_sleep_ms(200);
	t_check("recv still blocked after the close", !__atomic_load_n(&done, __ATOMIC_SEQ_CST));
	ct_signal("closed");
	pthread_join(t, NULL);
	t_ret("recv", got, got_errno);
	if (got > 0)
		t_data("recv data", buf, got);
	ct_peer_report(P);

	lfd = ct_listen(P + 5, 4);
	done = 0;
	tid = 0;
	pthread_create(&t, NULL, acceptor, NULL);
	ct_wait_blocked(&tid, 200);
	T_CALL("close while another thread is in accept", close(lfd));
	ct_sleep_ms(200);
	t_check("accept still blocked after the close", !__atomic_load_n(&done, __ATOMIC_SEQ_CST));
	ct_signal("lclosed");
	pthread_join(t, NULL);
	if (got < 0)
		t_ret("accept", got, got_errno);
	else
		close(got);
	ct_peer_report(P + 5);
	return 0;
}
