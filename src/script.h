/* script: running commands from a file, from stdin, or from -ex arguments. */
#ifndef LT_SCRIPT_H
#define LT_SCRIPT_H

#include "command.h"

/* Runs the commands read from fd (named name in errors, which read
 * "NAME:LINE: message"), servicing the target while it waits for input.
 * An error stops the file unless `set on-error continue` is in effect.
 * Returns 0, or 1 when a command failed or the file could not be read. */
int script_run_fd(struct interp *I, int fd, const char *name);

/* Runs one -ex command; errors read "-ex 'CMD': message". Returns 0 or 1. */
int script_run_ex(struct interp *I, const char *cmd);

#endif
