// rounds.h — one case of a c-test repeated many times in a row (a race
// shows in a few rounds of many): counts the rounds that failed and says
// how the first one did, so the trace stays one line per case.
#ifndef CT_ROUNDS_H
#define CT_ROUNDS_H
#include "trace.h"

// An AF_INET socket of type ty, with SO_REUSEADDR if reuse, or die.
static inline int sock(int ty, int reuse)
{
	int fd = ct_socket(ty);
	if (reuse)
		ct_setint(fd, SOL_SOCKET, SO_REUSEADDR, 1);
	return fd;
}

static inline int bind_to(int fd, const char *ip, int port)
{
	struct sockaddr_in a = ct_addr(ip, port);
	return bind(fd, (struct sockaddr *)&a, sizeof a);
}

struct tally {
	int failed;
	char first[96];
};

// Round `round` failed at `step` with errno e (0: it succeeded where it
// should have failed).
static inline void fail(struct tally *t, int round, const char *step, int e)
{
	if (!t->failed++)
		snprintf(t->first, sizeof t->first, "round %d: %s %s", round, step, t_errname(e));
}

// "what: N rounds, F failed[, first round R: STEP ERRNO]"
static inline void report(const char *what, int rounds, struct tally *t)
{
	t_log("%s: %d rounds, %d failed%s%s", what, rounds, t->failed, t->failed ? ", first " : "",
	      t->failed ? t->first : "");
}
#endif
