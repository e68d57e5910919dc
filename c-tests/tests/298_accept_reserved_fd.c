// CHECKS: accept reserves the new descriptor's number when it starts, before
// it waits (Linux's get_unused_fd_flags in __sys_accept4_file): a file
// another thread opens while accept waits gets the next number and the
// connection the reserved one; meanwhile close of the reserved number fails
// with EBADF and dup2 onto it with EBUSY. The same for accept4(SOCK_CLOEXEC)
// on a wildcard listener (FD_CLOEXEC set). An accept that fails (EAGAIN
// non-blocking, EAGAIN after SO_RCVTIMEO, EINTR) leaves no descriptor behind:
// the next open takes the number it had reserved.
// PEER: connect 22980 after:go1 wait:done
// PEER: connect 22985 after:go2 wait:done
// NORMALISED: nothing.
#include "trace.h"
#include <fcntl.h>
#include <pthread.h>
#include <sys/syscall.h>

#define P 22980

static volatile int accepting;
// The accepting thread's /proc/self/task/TID/syscall, opened at a high
// number before the round (an open while it accepts would take a number).
static int syscall_file = -1;

// Wait until the accepting thread sleeps in a system call other than a
// futex (the shim's locks): accept (kernel), or the shim's wait, which
// comes after its reservation.
static void wait_blocked(void)
{
	while (!accepting)
		ct_sleep_ms(1);
	for (int i = 0; i < 20000; i++) {
		char b[64] = "";
		ssize_t n = pread(syscall_file, b, sizeof b - 1, 0);
		if (n > 0 && b[0] >= '0' && b[0] <= '9' && atol(b) != SYS_futex)
			return;
		ct_sleep_ms(1);
	}
	ct_die("the accepting thread never blocked");
}

struct round {
	const char *go;
	int reserved;
	int opened;
};

static void *opener(void *arg)
{
	struct round *r = arg;
	wait_blocked();
	T_CALL("close(reserved) while accept waits", close(r->reserved));
	T_CALL("dup2(0, reserved) while accept waits", dup2(0, r->reserved) < 0 ? -1 : 0);
	r->opened = open("/dev/null", O_RDONLY);
	T_EQ("file opened while accept waits: fd is reserved + 1", r->opened, r->reserved + 1);
	ct_signal(r->go);
	return NULL;
}

// The lowest free descriptor number.
static int lowest_free(void)
{
	int fd = dup(0);
	if (fd < 0)
		ct_die("dup");
	close(fd);
	return fd;
}

static void one_round(int l, const char *go, int flags)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)syscall(SYS_gettid));
	int f = open(path, O_RDONLY);
	if (f < 0 || (syscall_file = fcntl(f, F_DUPFD, 100)) < 0)
		ct_die("open %s", path);
	close(f);
	struct round r = { go, lowest_free(), -1 };
	pthread_t t;
	pthread_create(&t, NULL, opener, &r);
	accepting = 1;
	int fd = accept4(l, NULL, NULL, flags);
	accepting = 0;
	pthread_join(t, NULL);
	T_EQ("accepted fd is the reserved one", fd, r.reserved);
	T_EQ("FD_CLOEXEC", fcntl(fd, F_GETFD) & FD_CLOEXEC, flags & SOCK_CLOEXEC ? FD_CLOEXEC : 0);
	close(r.opened);
	close(fd);
	close(syscall_file);
}

static volatile sig_atomic_t hits;
static void on_alarm(int s) { (void)s; hits++; }

int main(void)
{
	int l = ct_listen(P, 5);
	int w = ct_socket(SOCK_STREAM);
	struct sockaddr_in any = ct_addr("0.0.0.0", P + 5);
	if (bind(w, (struct sockaddr *)&any, sizeof any) < 0 || listen(w, 5) < 0)
		ct_die("wildcard listener");
	t_log("-- accept on %s:%d", SELF_IP, P);
	one_round(l, "go1", 0);
	t_log("-- accept4(SOCK_CLOEXEC) on 0.0.0.0:%d", P + 5);
	one_round(w, "go2", SOCK_CLOEXEC);

	int free_fd = lowest_free();
	T_CALL("accept on the non-blocking listener", (fcntl(l, F_SETFL, O_NONBLOCK), accept(l, NULL, NULL)));
	T_EQ("after EAGAIN the lowest free fd is unchanged", lowest_free(), free_fd);
	T_CALL("accept4 on the non-blocking wildcard listener",
	       (fcntl(w, F_SETFL, O_NONBLOCK), accept4(w, NULL, NULL, SOCK_CLOEXEC)));
	T_EQ("after EAGAIN the lowest free fd is unchanged", lowest_free(), free_fd);
	fcntl(l, F_SETFL, 0);
	fcntl(w, F_SETFL, 0);

	struct timeval tv = { 0, 100000 };
	setsockopt(l, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(w, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	T_CALL("accept with SO_RCVTIMEO 100 ms", accept(l, NULL, NULL));
	T_EQ("after the timeout the lowest free fd is unchanged", lowest_free(), free_fd);
	T_CALL("accept on the wildcard listener with SO_RCVTIMEO 100 ms", accept(w, NULL, NULL));
	T_EQ("after the timeout the lowest free fd is unchanged", lowest_free(), free_fd);
	tv.tv_usec = 0;
	setsockopt(l, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(w, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);

	ct_sigaction(SIGALRM, on_alarm, 0);
	ct_alarm_ms(100);
	T_CALL("accept interrupted", accept(l, NULL, NULL));
	T_EQ("after EINTR the lowest free fd is unchanged", lowest_free(), free_fd);
	ct_alarm_ms(100);
	T_CALL("accept on the wildcard listener interrupted", accept(w, NULL, NULL));
	T_EQ("after EINTR the lowest free fd is unchanged", lowest_free(), free_fd);
	T_EQ("handler ran", hits, 2);
	ct_signal("done");
	return 0;
}
