/* report: printing a query result for people (text) and programs (json). */
#ifndef LT_REPORT_H
#define LT_REPORT_H

#include <stdio.h>
#include "query.h"
#include "symbols.h"

/* How one hooked function was hooked, for status and reports. */
struct hook_info {
	const char *func;     /* "malloc" */
	taddr_t addr;         /* its entry */
	const char *how;      /* "jmp", "breakpoint", "alias of memalign", "not hooked" */
	const char *why;      /* reason for a fallback or refusal, or NULL */
};

/* Everything a report says besides the groups. */
struct report_meta {
	pid_t pid;
	const char *comm;            /* target's name */
	const char *engine;          /* "trap" */
	uint64_t sample_interval;    /* mean bytes between samples; 0 = every allocation */
	double duration_s;           /* time attached */
	uint64_t samples;            /* sampled allocations seen */
	uint64_t frees_seen;         /* frees of sampled addresses seen */
	uint64_t dropped;            /* sampled allocations lost (ring or table full): figures low */
	uint64_t frees_lost;         /* frees of sampled blocks lost (free log full): figures high */
	const char *allocator;       /* path of the object that defines malloc */
	const struct hook_info *hooks;
	size_t nhooks;
	const char *target_end;      /* NULL while running; else "exited with status 3", ... */
	const struct query *query;   /* the filters that were applied */
};

/* Writes r as text to f: per group estimated live bytes and count, samples,
 * oldest age and symbolized frames. Returns 0, or -errno on a write error. */
int report_text(FILE *f, const struct report_meta *m, const struct query_result *r,
		const struct store *s, struct symbolizer *sym);

/* Writes r as one JSON document (schema in README.md). Returns 0 or -errno. */
int report_json(FILE *f, const struct report_meta *m, const struct query_result *r,
		const struct store *s, struct symbolizer *sym);

/* Writes every frame of st to f as the text report does (address,
 * function+offset, module, file:line, inlined frames). Returns 0 or -errno. */
int report_stack_text(FILE *f, const struct stack *st, struct symbolizer *sym);

#endif
