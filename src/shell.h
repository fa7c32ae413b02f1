/* shell: the interactive command line on a terminal (readline). */
#ifndef LT_SHELL_H
#define LT_SHELL_H

#include "command.h"

/* Reads and runs commands from the terminal on stdin until quit, Ctrl-D or a
 * signal that ends the session, servicing the target while the user types.
 * Completion covers command names and their words; history is kept in
 * ~/.leaktrap_history. Returns 0, or 1 when the last command failed. */
int shell_run(struct interp *I);

#endif
