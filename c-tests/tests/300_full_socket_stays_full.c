// CHECKS: a TCP connection whose sender filled everything the path takes
// (the receiver reads nothing) stays full while time passes: the zero
// window is probed, but nothing a probe carries is taken (Linux drops
// data into a window it advertised as zero, and its probes carry none),
// so a non-blocking send still gives EAGAIN for 3 s, and the receiver's
// queue does not grow. Then the receiver reads, and every byte sent
// arrives. (The shim took one byte of each persist probe while its
// buffer had room below one unit of the window scale: c-test 270's
// splice into a "full" socket moved a byte once.)
// PEER: none
#include "trace.h"
#include <sys/ioctl.h>

#define P 23000

static int inq(int fd)
{
	int n = -1;
	if (ioctl(fd, FIONREAD, &n) < 0)
		ct_die("FIONREAD");
	return n;
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	struct sockaddr_in a = ct_addr("127.0.0.1", P);
	int l = ct_socket(SOCK_STREAM);
	ct_setint(l, SOL_SOCKET, SO_REUSEADDR, 1);
	if (bind(l, (struct sockaddr *)&a, sizeof a) < 0 || listen(l, 4) < 0)
		ct_die("bind/listen");
	int c = ct_socket(SOCK_STREAM);
	if (connect(c, (struct sockaddr *)&a, sizeof a) < 0)
		ct_die("connect");
	int s = ct_accept(l);
	close(l);

	long sent = ct_fill(c);
	t_check("filled", sent > 0);
	int q0 = inq(s);
	// The sender's persist probes come at 0.2 s, then backed off: several
	// within 3 s. A send that goes through ends the wait.
	long r = -1;
	int err = 0;
	for (int i = 0; i < 30 && r < 0; i++) {
		ct_sleep_ms(100);
		r = send(c, "x", 1, MSG_DONTWAIT | MSG_NOSIGNAL);
		err = errno;
		if (r < 0 && err != EAGAIN)
			break;
	}
	t_ret("send 1 byte within 3 s", r, err);
	if (r > 0)
		sent += r;
	t_check("receiver's queue unchanged", inq(s) == q0);

	static char buf[65536];
	long got = 0;
	while (got < sent) {
		long n = recv(s, buf, sizeof buf, 0);
		if (n <= 0)
			break;
		got += n;
	}
	t_check("every byte sent arrives", got == sent);
	close(c);
	T_CALL("then EOF", recv(s, buf, sizeof buf, 0));
	close(s);
	return 0;
}
