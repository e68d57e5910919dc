// CHECKS: socket() argument errors: unknown family (EAFNOSUPPORT), unknown
// type (EINVAL), protocol not matching the type (EPROTONOSUPPORT), unknown
// flag bits (EINVAL); none of them consumes a descriptor.
// PEER: none
// NORMALISED: nothing.
#include "trace.h"

int main(void)
{
	T_CALL("socket(12345, STREAM, 0)", socket(12345, SOCK_STREAM, 0));
	T_CALL("socket(AF_INET, 99, 0)", socket(AF_INET, 99, 0));
	T_CALL("socket(STREAM, IPPROTO_UDP)", socket(AF_INET, SOCK_STREAM, IPPROTO_UDP));
	T_CALL("socket(DGRAM, IPPROTO_TCP)", socket(AF_INET, SOCK_DGRAM, IPPROTO_TCP));
	T_CALL("socket(STREAM, 200)", socket(AF_INET, SOCK_STREAM, 200));
	T_CALL("socket(STREAM|0x100000, 0)", socket(AF_INET, SOCK_STREAM | 0x100000, 0));
	T_CALL("socket(STREAM, -1)", socket(AF_INET, SOCK_STREAM, -1));
	T_CALL("socket(-1, STREAM, 0)", socket(-1, SOCK_STREAM, 0));
	T_CALL("next socket is still 3", socket(AF_INET, SOCK_STREAM, 0));
	return 0;
}
