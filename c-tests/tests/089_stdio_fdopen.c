// CHECKS: stdio on a connected socket: fdopen for reading and writing,
// fprintf + fflush to send, fgets to read the echoed line, fclose closes
// the socket (the peer sees EOF).
// PEER: tcp 20890 echo
// NORMALISED: nothing.
#include "trace.h"

#define P 20890

int main(void)
{
	int fd = ct_connect(P);
	FILE *w = fdopen(dup(fd), "w");
	FILE *r = fdopen(fd, "r");
	t_check("fdopen", w && r);
	T_CALL("fprintf", fprintf(w, "line one\n"));
	T_CALL("fflush", fflush(w));
	char line[64] = "";
	t_check("fgets", fgets(line, sizeof line, r) != NULL);
	t_log("line = \"%.*s\"", (int)strcspn(line, "\n"), line);
	T_CALL("fclose(w)", fclose(w));
	T_CALL("fclose(r)", fclose(r));
	ct_peer_report(P);
	return 0;
}
