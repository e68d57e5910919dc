// sockopt.c — a script of int socket options as a table (see trace.h):
// each row a getsockopt printed with its value, or a setsockopt printed
// as a call.
#include "trace.h"

void t_getint(const char *what, int fd, int level, int name)
{
	int v = -7;
	socklen_t len = sizeof v;
	if (getsockopt(fd, level, name, &v, &len) < 0)
		t_log("%s = -1 %s", what, t_errname(errno));
	else if (len != sizeof v)
		t_log("%s = %d len %u", what, v, (unsigned)len);
	else
		t_log("%s = %d", what, v);
}

void t_setint(const char *what, int fd, int level, int name, int v)
{
	T_CALL(what, setsockopt(fd, level, name, &v, sizeof v));
}

void t_opts(int fd, const struct ct_opt *rows, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct ct_opt *o = &rows[i];
		if (o->set)
			t_setint(o->what, fd, o->level, o->name, o->value);
		else
			t_getint(o->what, fd, o->level, o->name);
	}
}
