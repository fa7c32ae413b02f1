/*
 * script: running commands from a file, from stdin, or from -ex arguments.
 *
 * Input is read through the engine's loop (session_wait with input_fd), not
 * with a blocking read: a pipe that writes slowly must not leave a sampled
 * thread of the target waiting on its trap.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "script.h"

/* Runs one line as line number lineno of name; returns interp_exec's status. */
static int run_line(struct interp *I, const char *name, unsigned lineno, const char *line)
{
	char where[600];
	snprintf(where, sizeof(where), "%s:%u", name, lineno);
	I->where = where;
	int rc = interp_exec(I, line);
	I->where = NULL;
	return rc;
}

int script_run_fd(struct interp *I, int fd, const char *name)
{
	char buf[8192];
	size_t have = 0;
	unsigned lineno = 0;
	int status = 0;
	bool eof = false;
	while (!I->done && !I->stopped) {
		char *nl = memchr(buf, '\n', have);
		if (!nl && !eof && have < sizeof(buf) - 1) {
			I->S->e.input_fd = fd;
			int why = session_wait(I->S, 0);
			I->S->e.input_fd = -1;
			if (why == 1) {
				I->stopped = true;
				break;
			}
			if (why != 3)
				continue;	/* the target ended: keep reading */
			ssize_t n = read(fd, buf + have, sizeof(buf) - 1 - have);
			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (n < 0) {
				fprintf(stderr, "%s: cannot read: %s\n", name, strerror(errno));
				return 1;
			}
			if (n == 0)
				eof = true;
			have += (size_t)n;
			continue;
		}
		if (!nl && have == 0)
			break;		/* end of input */
		size_t len = nl ? (size_t)(nl - buf) : have;
		if (!nl && !eof) {
			fprintf(stderr, "%s:%u: line too long (over %zu characters)\n", name,
				lineno + 1, sizeof(buf) - 2);
			return 1;
		}
		lineno++;
		if (memchr(buf, 0, len)) {
			fprintf(stderr, "%s:%u: not text (a NUL byte): give a file of commands, one per line\n",
				name, lineno);
			return 1;
		}
		buf[len] = 0;
		int rc = run_line(I, name, lineno, buf);
		size_t used = nl ? len + 1 : have;
		memmove(buf, buf + used, have - used);
		have -= used;
		if (rc) {
			status = 1;
			if (!I->on_error_continue)
				break;
		}
	}
	return status;
}

int script_run_ex(struct interp *I, const char *cmd)
{
	char where[300];
	snprintf(where, sizeof(where), "-ex '%.200s'", cmd);
	I->where = where;
	int rc = interp_exec(I, cmd);
	I->where = NULL;
	return rc;
}
