/* snapshot: the live set per stack at one moment, diffs, and leak suspects. */
#ifndef LT_SNAPSHOT_H
#define LT_SNAPSHOT_H

#include "store.h"

/* One stack's live set at the moment of a snapshot. */
struct snap_entry {
	uint32_t stack_id;
	double bytes, count;   /* estimated live bytes and allocations */
	double old_bytes;      /* ... of those at least old_ns old then */
};

struct snapshot {
	char name[32];
	uint64_t t_ns;         /* CLOCK_MONOTONIC when taken */
	uint64_t old_ns;       /* the age that made bytes old */
	struct snap_entry *v;  /* ordered by stack_id */
	size_t n;
	double total_bytes, total_count;
};

/* Fills snap with the live set of s at now_ns, by stack; returns 0 or -ENOMEM. */
int snapshot_take(const struct store *s, uint64_t now_ns, uint64_t old_ns,
		  struct snapshot *snap);

/* Frees what snapshot_take allocated. */
void snapshot_free(struct snapshot *snap);

enum diff_mark { DIFF_GROWN, DIFF_SHRUNK, DIFF_NEW, DIFF_GONE };

/* How one stack changed from snapshot a to snapshot b. */
struct diff_row {
	uint32_t stack_id;
	double a_bytes, b_bytes, a_count, b_count;
	double d_bytes, d_count;  /* b - a */
	enum diff_mark mark;
};

/* Compares a with b: one row per stack whose live set changed, sorted by
 * growth in bytes (largest first, so shrinking stacks come last). Returns
 * the number of rows (*rows to free) or -ENOMEM. */
long snapshot_diff(const struct snapshot *a, const struct snapshot *b,
		   struct diff_row **rows);

/* One leak suspect: a stack whose old live bytes grew steadily. */
struct leak_row {
	uint32_t stack_id;
	double rate;           /* least-squares growth of old bytes, bytes per second */
	double r2;             /* how well a straight line fits (1: perfectly steady) */
	unsigned grew, steps;  /* intervals in which old bytes grew, out of steps */
	double old_bytes;      /* old bytes in the last snapshot */
	double bytes;          /* live bytes in the last snapshot */
	double score;          /* rate * r2: what suspects are ranked by */
};

/* Ranks leak suspects across the n snapshots series[0..n) (oldest first, at
 * least 3): stacks whose old bytes grow at a positive rate with a fit r2 of
 * at least 0.5 and grew in at least half the intervals, best score first.
 * Returns the number of suspects (*rows to free) or -ENOMEM/-EINVAL. */
long snapshot_leaks(const struct snapshot *const *series, size_t n,
		    struct leak_row **rows);

#endif
