// CHECKS: a TCP send of 8192 bytes whose buffer is valid for its first 4096
// bytes only (the next page is unmapped): Linux copies into one segment and
// fails as a whole with EFAULT; nothing reaches the peer.
// PEER: tcp 20560 recvall
// NORMALISED: nothing.
#include "trace.h"
#include <sys/mman.h>

#define P 20560

int main(void)
{
	long pg = sysconf(_SC_PAGESIZE);
	char *m = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		ct_die("mmap");
	munmap(m + pg, pg);
	ct_pattern(m, pg, 0);
	int fd = ct_connect(P);
	long n = T_CALL("send 8192 with 4096 mapped", send(fd, m, 2 * pg, MSG_NOSIGNAL));
	t_log("  returned the page size: %s", n == pg ? "yes" : "no");
	T_CALL("send only unmapped", send(fd, m + pg, 100, MSG_NOSIGNAL));
	close(fd);
	ct_peer_report(P);
	return 0;
}
