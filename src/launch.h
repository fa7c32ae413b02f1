/* launch: starting a program for `leaktrap -- PROGRAM`, stopped at its entry point. */
#ifndef LT_LAUNCH_H
#define LT_LAUNCH_H

#include <sys/types.h>

/* Starts argv[0] (searched in PATH like execvp) as a child of leaktrap, runs
 * it up to its entry point (AT_ENTRY: shared libraries mapped and their
 * constructors run, nothing from the entry point on) and leaves
 * it there in a group-stop (SIGSTOP, state T) with no tracer and its code
 * bytes as they were, so engine_attach finds a stopped target and
 * kill(pid, SIGCONT) lets it go. The program starts with an empty signal
 * mask, default handlers and the ignored signals leaktrap inherited, as from
 * a shell. Returns the pid, or -1 with one line in err naming what went
 * wrong (not found, not executable, exited before its entry point) and no
 * child left behind. */
pid_t launch_program(char *const argv[], char *err, size_t errlen);

#endif
