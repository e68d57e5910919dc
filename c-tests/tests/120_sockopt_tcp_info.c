// CHECKS: TCP_INFO: tcpi_state for a fresh socket (CLOSE), a listener
// (LISTEN), an established connection, after the peer's FIN (CLOSE_WAIT);
// the returned optlen is the caller's struct size; optlen 1 returns 1 byte.
// PEER: tcp 21200 wait:fin close
// NORMALISED: only tcpi_state is printed.
#include "trace.h"

#define P 21200

static void state(const char *what, int fd)
{
	struct tcp_info ti;
	memset(&ti, 0xee, sizeof ti);
	socklen_t l = sizeof ti;
	errno = 0;
	int rc = getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &l);
	if (rc < 0)
		t_log("%s: TCP_INFO = -1 %s", what, t_errname(errno));
	else
		t_log("%s: TCP_INFO = 0 state %u len ok %s", what, ti.tcpi_state,
		      l == sizeof ti ? "yes" : "NO");
}

int main(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	state("fresh", fd);
	int l = ct_listen(P + 5, 5);
	state("listener", l);
	int c = ct_connect(P);
	state("connected", c);
	ct_signal("fin");
	char x;
	recv(c, &x, 1, 0);
	state("after peer FIN", c);
	unsigned char b[4] = { 0xee, 0xee, 0xee, 0xee };
	socklen_t len = 1;
	T_CALL("TCP_INFO optlen 1", getsockopt(c, IPPROTO_TCP, TCP_INFO, b, &len));
	t_log("  len %u bytes %02x %02x", (unsigned)len, b[0], b[1]);
	int u = socket(AF_INET, SOCK_DGRAM, 0);
	state("udp", u);
	return 0;
}
