/* command: the command interpreter shared by the shell, command files, -ex
 * and reports. */
#ifndef LT_COMMAND_H
#define LT_COMMAND_H

#include "session.h"

/* The interpreter's state around one session. */
struct interp {
	struct session *S;
	bool interactive;       /* Ctrl-C ends a command, not the session */
	bool on_error_continue; /* `set on-error continue` */
	bool done;              /* quit or detach ran: no more commands */
	bool stopped;           /* a signal asked the whole session to end */
	unsigned default_top;   /* `live` shows this many groups unless told (0: all) */
	const char *where;      /* "FILE:LINE" prefix for errors; NULL: "leaktrap" */
};

/* Runs one command line (empty lines and #-comments do nothing). Returns 0,
 * or 1 when the command failed (one line on stderr says why). */
int interp_exec(struct interp *I, const char *line);

/* Returns the name of command i, NULL past the last (for completion). */
const char *interp_command_name(size_t i);

/* Returns the words that may follow the words line[0..n) (for completion;
 * NULL-terminated, NULL when there are none). */
const char *const *interp_completions(char **words, int n);

#endif
