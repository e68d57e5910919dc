// CHECKS: sendfile from a regular file to a TCP socket: whole file with a
// NULL offset (file position advances), a range with an offset pointer
// (updated, file position unchanged), count past EOF (short), at EOF (0);
// socket as the input fd is EINVAL; the echoed bytes are intact.
// PEER: tcp 20500 echo
// NORMALISED: nothing (the temporary file's name is not printed).
#include "trace.h"
#include <sys/sendfile.h>

#define P 20500
#define N 100000

int main(void)
{
	char path[] = "/tmp/ct-sendfile-XXXXXX";
	int f = mkstemp(path);
	if (f < 0)
		ct_die("mkstemp");
	unlink(path);
	static char data[N], back[N];
	ct_pattern(data, N, 0);
	if (write(f, data, N) != N)
		ct_die("write file");
	lseek(f, 0, SEEK_SET);
	int fd = ct_connect(P);
	T_CALL("sendfile whole file", sendfile(fd, f, NULL, N));
	T_EQ("file position", lseek(f, 0, SEEK_CUR), N);
	ct_recv_all(fd, back, N);
	t_check("echo intact", memcmp(back, data, N) == 0);
	off_t off = 50000;
	T_CALL("sendfile offset 50000 count 1000", sendfile(fd, f, &off, 1000));
	T_EQ("offset", off, 51000);
	T_EQ("file position", lseek(f, 0, SEEK_CUR), N);
	ct_recv_all(fd, back, 1000);
	t_check("echo intact", memcmp(back, data + 50000, 1000) == 0);
	off = N - 10;
	T_CALL("sendfile past EOF", sendfile(fd, f, &off, 100));
	ct_recv_all(fd, back, 10);
	t_check("echo intact", memcmp(back, data + N - 10, 10) == 0);
	T_CALL("sendfile at EOF", sendfile(fd, f, NULL, 100));
	T_CALL("sendfile from socket to file", sendfile(f, fd, NULL, 10));
	T_CALL("sendfile count 0", sendfile(fd, f, &off, 0));
	return 0;
}
