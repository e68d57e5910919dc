// CHECKS: O_NONBLOCK lives on the open file description, shared across
// processes: F_SETFL in a forked child is seen by the parent (F_GETFL, and
// a recv with nothing queued fails EAGAIN instead of blocking); FIONBIO in
// the child clears it for the parent; the parent's F_SETFL is seen by the
// child, and the child's last change is seen after it exited; a socket made with
// SOCK_NONBLOCK and received back by SCM_RIGHTS (a new descriptor of the
// same open file) is non-blocking, and F_SETFL on either descriptor is
// seen on the other.
// PEER: tcp 22840 wait:done
// NORMALISED: nothing.
#include "trace.h"
#include <sys/wait.h>

#define P 22840

static void show(const char *who, int fd)
{
	int fl = fcntl(fd, F_GETFL);
	t_log("%s: F_GETFL O_NONBLOCK %s", who, fl < 0 ? "error" : (fl & O_NONBLOCK) ? "set" : "clear");
}

// Step through a pipe: wait for one byte.
static void step(int rd)
{
	char c;
	if (read(rd, &c, 1) != 1)
		ct_die("step");
}

static void go(int wr)
{
	fflush(stdout);
	if (write(wr, "g", 1) != 1)
		ct_die("go");
}

int main(void)
{
	int fd = ct_connect(P);
	int to_child[2], to_parent[2];
	if (pipe(to_child) < 0 || pipe(to_parent) < 0)
		ct_die("pipe");
	show("parent before fork", fd);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		T_CALL("child: F_SETFL O_NONBLOCK", fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK));
		go(to_parent[1]);
		step(to_child[0]);
		int off = 0;
		T_CALL("child: FIONBIO 0", ioctl(fd, FIONBIO, &off));
		go(to_parent[1]);
		step(to_child[0]);
		show("child after the parent's F_SETFL", fd);
		T_CALL("child: F_SETFL 0", fcntl(fd, F_SETFL, O_RDWR));
		fflush(stdout);
		_exit(0);
	}
	char b[4];
	step(to_parent[0]);
	show("parent after the child's F_SETFL", fd);
	T_CALL("parent: recv, nothing queued", recv(fd, b, sizeof b, 0));
	go(to_child[1]);
	step(to_parent[0]);
	show("parent after the child's FIONBIO 0", fd);
	T_CALL("parent: F_SETFL O_NONBLOCK", fcntl(fd, F_SETFL, O_RDWR | O_NONBLOCK));
	go(to_child[1]);
	int st = 0;
	waitpid(pid, &st, 0);
	t_log("child exited: %d", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	show("parent after the child cleared it and exited", fd);

	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		ct_die("socketpair");
	int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	ct_send_fd(sv[0], s);
	int r = ct_recv_fd(sv[1]);
	show("received SOCK_NONBLOCK socket", r);
	T_CALL("F_SETFL 0 on the first descriptor", fcntl(s, F_SETFL, O_RDWR));
	show("received descriptor after it", r);
	T_CALL("F_SETFL O_NONBLOCK on the received descriptor", fcntl(r, F_SETFL, O_RDWR | O_NONBLOCK));
	show("first descriptor after it", s);
	close(r);
	close(s);
	ct_signal("done");
	close(fd);
	return 0;
}
