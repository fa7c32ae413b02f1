/* session: one attachment as the commands see it: the engine, symbols,
 * snapshots (named and automatic) and the output. */
#ifndef LT_SESSION_H
#define LT_SESSION_H

#include <stdio.h>

#include "engine.h"
#include "keys.h"
#include "snapshot.h"
#include "symbols.h"

#define AUTO_SNAP_PERIOD_NS 2000000000ULL  /* leaks: one automatic snapshot per 2 s */
#define AUTO_SNAP_KEEP      90             /* ... the last 3 minutes of them */
#define MAX_NAMED_SNAPS     64

struct session {
	struct engine e;
	struct symbolizer *sym;
	struct keys *keys;
	pid_t pid;
	bool attached;          /* hooks in the target: not detached, target alive */
	bool ended_noted;       /* the target's end was told to the user */
	bool quiet;
	uint64_t interval;      /* current mean sampling interval; 0 = every allocation */
	uint64_t end_ns;        /* when the session stopped gathering (0: still going) */
	uint64_t last_refresh_ns;
	struct snapshot named[MAX_NAMED_SNAPS];
	size_t nnamed;
	unsigned next_snap_no;  /* for unnamed snapshots: s1, s2 ... */
	struct snapshot autos[AUTO_SNAP_KEEP];  /* a ring, oldest at auto_first */
	size_t nautos, auto_first;
	uint64_t next_auto_ns;
	FILE *out;              /* where commands print */
};

/* Attaches to pid (flags: ENGINE_*) and sets up symbols and snapshots; prints the "attached"
 * line unless quiet. Returns 0, or -1 with one line in err. */
int session_attach(struct session *S, pid_t pid, int sigfd, uint64_t interval, unsigned flags,
		   bool quiet, char *err, size_t errlen);

/* Lets the target run, servicing it, until deadline_ns (0: none), a signal,
 * the target's end or readable input (S->e.input_fd); takes the automatic
 * snapshots that fall due. Returns what engine_run returns; once detached
 * it waits for the deadline or input only. */
int session_wait(struct session *S, uint64_t deadline_ns);

/* Restores the target and detaches (if still attached), printing how it
 * went unless quiet. Returns 0, or -1 if something could not be undone. */
int session_detach(struct session *S);

/* Frees everything; the session must be detached. */
void session_free(struct session *S);

/* The clock queries use: now while gathering, the moment gathering ended after. */
uint64_t session_now(const struct session *S);

/* Fills m with the session's description for reports. */
void session_meta(const struct session *S, const struct query *q, struct report_meta *m);

/* Returns the named snapshot, or NULL. */
const struct snapshot *session_snapshot(const struct session *S, const char *name);

/* Returns the automatic snapshots taken in the last window_ns (0: all kept),
 * oldest first, in out[0..AUTO_SNAP_KEEP); returns how many. */
size_t session_autos(const struct session *S, uint64_t window_ns,
		     const struct snapshot **out);

#endif
