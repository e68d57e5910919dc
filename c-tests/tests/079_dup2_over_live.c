// CHECKS: dup2(s1, s2) where s2 is a live connection closes s2's connection
// (the peer sees EOF) and makes s2 another name for s1's connection;
// dup2(s, s) is a no-op returning s; dup3 with O_CLOEXEC.
// PEER: tcp 20790 echo
// NORMALISED: nothing.
#include "trace.h"

#define P 20790

int main(void)
{
	int s1 = ct_connect(P);
	int s2 = ct_connect(P);
	T_CALL("dup2(s1, s2)", dup2(s1, s2));
	T_CALL("send on s2", send(s2, "one", 3, 0));
	char buf[8];
	ct_wait_bytes(s1, 3, 5000);
	long n = T_CALL("recv on s1", recv(s1, buf, sizeof buf, 0));
	t_data("  data", buf, n);
	T_CALL("dup2(s1, s1)", dup2(s1, s1));
	int s3 = T_CALL("dup3(s1, 10, O_CLOEXEC)", dup3(s1, 10, O_CLOEXEC));
	T_EQ("FD_CLOEXEC on 10", fcntl(s3, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	T_EQ("FD_CLOEXEC on s1", fcntl(s1, F_GETFD) & FD_CLOEXEC, 0);
	T_CALL("dup3(s1, s1, 0)", dup3(s1, s1, 0));
	close(s1);
	close(s2);
	close(s3);
	ct_peer_report(P);
	return 0;
}
