// CHECKS: small echo round trips with send/recv, write/read, sendto/recvfrom
// (NULL address on a connected TCP socket); zero-length send and recv.
// PEER: tcp 20400 echo
// NORMALISED: nothing.
#include "trace.h"

#define P 20400

static void roundtrip(int fd, const char *what)
{
	char buf[32];
	ct_wait_bytes(fd, (int)strlen(what), 5000);
	long n = T_CALL("  recv", recv(fd, buf, sizeof buf, 0));
	t_data("  data", buf, n);
}

int main(void)
{
	int fd = ct_connect(P);
	T_CALL("send hello", send(fd, "hello", 5, 0));
	roundtrip(fd, "hello");
	T_CALL("write world", write(fd, "world", 5));
	char buf[32];
	ct_wait_bytes(fd, 5, 5000);
	long n = T_CALL("read", read(fd, buf, sizeof buf));
	t_data("  data", buf, n);
	T_CALL("sendto NULL addr", sendto(fd, "again", 5, 0, NULL, 0));
	ct_wait_bytes(fd, 5, 5000);
	struct sockaddr_in from;
	socklen_t fl = sizeof from;
	memset(&from, 0xab, sizeof from);
	n = T_CALL("recvfrom", recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl));
	t_data("  data", buf, n);
	t_log("  fromlen = %u", (unsigned)fl);
	T_CALL("send 0 bytes", send(fd, buf, 0, 0));
	T_CALL("write 0 bytes", write(fd, buf, 0));
	T_CALL("recv 0 bytes, nothing queued", recv(fd, buf, 0, MSG_DONTWAIT));
	T_CALL("send x", send(fd, "x", 1, 0));
	ct_wait_bytes(fd, 1, 5000);
	T_CALL("recv 0 bytes, 1 queued", recv(fd, buf, 0, 0));
	T_CALL("read 0 bytes", read(fd, buf, 0));
	n = T_CALL("recv", recv(fd, buf, sizeof buf, 0));
	t_data("  data", buf, n);
	return 0;
}
