/* agent: the agent engine's reader of the region's ring and free log. */
#ifndef LT_AGENT_H
#define LT_AGENT_H

#include "types.h"

struct engine;

/* The reader's position in the region and its clock. */
struct agent {
	uint64_t rtail;          /* ring records consumed */
	uint64_t ftail;          /* free-log entries consumed */
	uint64_t stuck_ns;       /* when the record at rtail was first seen incomplete */
	uint64_t fstuck_ns;      /* ... the free-log entry at ftail unwritten */
	uint64_t ctr0, ns0;      /* arch_counter() and CLOCK_MONOTONIC at attach */
	double ns_per_tick;      /* 0 until calibrated */
	uint64_t ring_drops;     /* events the stubs dropped (ring full) */
	uint64_t flog_drops;     /* frees the stubs could not log (log full) */
	uint64_t untracked;      /* samples whose table bucket was full */
	uint64_t skipped;        /* records abandoned incomplete (a thread left mid-record) */
	uint64_t records;        /* records read */
};

/* Starts reading e's freshly installed region: positions at 0, clock
 * calibration from now, the first heartbeat. */
void agent_start(struct engine *e);

/* Reads every complete record and logged free, in the order they happened,
 * into e's store. Returns how many it consumed, or -errno when the region
 * cannot be read (the process exited or replaced its image). */
int agent_drain(struct engine *e);

#endif
