/* view: what the shell's commands print, as text for people. */
#ifndef LT_VIEW_H
#define LT_VIEW_H

#include <stdio.h>

#include "query.h"
#include "session.h"

/* Prints the groups of r (from query q) as a table. */
void view_live(FILE *f, struct session *S, const struct query *q, const struct query_result *r);

/* Prints a histogram of live bytes by age (decades from 10 ms to 1000 s),
 * over the live set filtered by q, or for each of its top stacks when by_stack. */
void view_age(FILE *f, struct session *S, const struct query *q, bool by_stack);

/* Prints stack id with its live figures and every frame; returns -1 when
 * there is no such stack. */
int view_stack(FILE *f, struct session *S, uint32_t id);

/* Prints the named snapshots. */
void view_snapshots(FILE *f, const struct session *S);

/* Prints the changes from snapshot a to b, at most top rows (0: all). */
void view_diff(FILE *f, struct session *S, const struct snapshot *a, const struct snapshot *b,
	       const char *aname, const char *bname, unsigned top);

/* Prints the leak suspects among series[0..n), at most top of them. */
void view_leaks(FILE *f, struct session *S, const struct snapshot *const *series, size_t n,
		const struct leak_row *rows, size_t nrows, unsigned top);

/* Prints the status of the session. */
void view_status(FILE *f, struct session *S);

/* Returns a one-line name of a stack for tables: "stack N: site". */
const char *view_stack_name(struct session *S, uint32_t id, char *buf, size_t len);

#endif
