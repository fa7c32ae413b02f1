/* export: the live set in the formats other tools read (folded stacks, pprof).
 *
 * Both formats are per stack and the viewers do their own grouping, so r
 * should come from query_by_stack: a group of another grouping is written
 * as its example stack (group.stack_id) with the whole group's figures. */
#ifndef LT_EXPORT_H
#define LT_EXPORT_H

#include <stdio.h>
#include "report.h"

/* Writes r as folded stacks to f: one line per group, "root;...;leaf bytes",
 * root first, for flamegraph.pl, inferno and speedscope. A frame is its
 * function (inlined functions after the one they were inlined into), else
 * module+0xoffset, else its address; ';' and control characters in names
 * become '_'; bytes is the estimate rounded. Returns 0 or -errno. */
int export_folded(FILE *f, const struct report_meta *m, const struct query_result *r,
		  const struct store *s, struct symbolizer *sym);

/* Writes r as a gzipped pprof profile.proto to f, with sample types
 * inuse_objects/count and inuse_space/bytes (default), one sample per group
 * labelled with its oldest allocation's age ("age", nanoseconds) and its
 * number of samples, locations with their inlined lines, functions and
 * mappings. Returns 0 or -errno (-ENOMEM when out of memory). */
int export_pprof(FILE *f, const struct report_meta *m, const struct query_result *r,
		 const struct store *s, struct symbolizer *sym);

#endif
