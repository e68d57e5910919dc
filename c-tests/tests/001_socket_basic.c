// CHECKS: socket() for TCP and UDP (protocol 0 and explicit) returns the
// lowest free descriptor; a closed number is reused; fstat says S_ISSOCK.
// PEER: none
// NORMALISED: nothing (descriptor numbers are deterministic: lowest free).
#include "trace.h"

int main(void)
{
	int a = T_CALL("socket(STREAM, 0)", socket(AF_INET, SOCK_STREAM, 0));
	int b = T_CALL("socket(STREAM, IPPROTO_TCP)", socket(AF_INET, SOCK_STREAM, IPPROTO_TCP));
	int c = T_CALL("socket(DGRAM, 0)", socket(AF_INET, SOCK_DGRAM, 0));
	int d = T_CALL("socket(DGRAM, IPPROTO_UDP)", socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP));
	T_CALL("close(b)", close(b));
	T_CALL("socket reuses b", socket(AF_INET, SOCK_STREAM, 0));
	struct stat st;
	T_CALL("fstat(a)", fstat(a, &st));
	t_check("S_ISSOCK(a)", S_ISSOCK(st.st_mode));
	t_log("mode = 0%o", (unsigned)st.st_mode);
	T_CALL("fstat(c)", fstat(c, &st));
	t_check("S_ISSOCK(c)", S_ISSOCK(st.st_mode));
	T_CALL("close(a)", close(a));
	T_CALL("close(a) again", close(a));
	T_CALL("close(c)", close(c));
	T_CALL("close(d)", close(d));
	return 0;
}
