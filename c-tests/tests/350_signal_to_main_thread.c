// CHECKS: a process-directed signal (ITIMER_REAL) goes to the main thread
// while it is in a blocking recvfrom on a UDP socket, with another thread
// of the program busy beside it: Linux gives the signal to the main thread
// (the group leader) whenever it does not block it, so the handler runs
// there every time, and the recvfrom ends with EINTR or its 5 ms timeout.
// The shim once held the signals blocked while a call prepared its sleep,
// and the kernel then gave the signal to the busy thread: the call slept
// on (the flake proof's 276). Each of the 1000 timers fires 1-40 us after
// it is armed, so many land while the call prepares.
// PEER: none
// NORMALISED: how each recvfrom ended (EINTR or EAGAIN) is not printed:
// a timer may fire before the call starts.
#include "trace.h"
#include <pthread.h>
#include <sys/syscall.h>
#include <sys/time.h>

#define N 1000

static pid_t main_tid;
static volatile sig_atomic_t in_main, elsewhere;
static volatile int stop;

static void on_alarm(int sig)
{
	(void)sig;
	if (syscall(SYS_gettid) == main_tid)
		in_main++;
	else
		elsewhere++;
}

static void *busy(void *arg)
{
	(void)arg;
	while (!stop)
		;
	return NULL;
}

int main(void)
{
	main_tid = (pid_t)syscall(SYS_gettid);
	int fd = ct_udp(21350);
	struct timeval tv = { 0, 5000 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	ct_sigaction(SIGALRM, on_alarm, 0);
	pthread_t th;
	pthread_create(&th, NULL, busy, NULL);
	char buf[8];
	int odd = 0;
	for (int i = 0; i < N; i++) {
		struct itimerval it = { { 0, 0 }, { 0, 1 + (i * 7) % 40 } };
		setitimer(ITIMER_REAL, &it, NULL);
		long r = recvfrom(fd, buf, sizeof buf, 0, NULL, NULL);
		if (r != -1 || (errno != EINTR && errno != EAGAIN))
			odd++;
	}
	stop = 1;
	pthread_join(th, NULL);
	t_log("%d timers, a busy thread beside the blocked recvfrom", N);
	T_EQ("handler ran in the main thread", in_main, N);
	T_EQ("handler ran in another thread", elsewhere, 0);
	T_EQ("recvfrom ended otherwise than EINTR or EAGAIN", odd, 0);
	return 0;
}
