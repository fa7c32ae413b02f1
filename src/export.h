/* export: the live set in the formats other tools read (folded stacks, pprof). */
#ifndef LT_EXPORT_H
#define LT_EXPORT_H

#include <stdio.h>
#include "report.h"

/* Writes r as folded stacks to f: one line per group, "root;...;leaf bytes",
 * root first, for flamegraph.pl, inferno and speedscope. Returns 0 or -errno. */
int export_folded(FILE *f, const struct report_meta *m, const struct query_result *r,
		  const struct store *s, struct symbolizer *sym);

/* Writes r as a gzipped pprof profile.proto to f, with sample types
 * inuse_objects/count and inuse_space/bytes, locations, functions, mappings
 * and an allocation-age label. Returns 0 or -errno. */
int export_pprof(FILE *f, const struct report_meta *m, const struct query_result *r,
		 const struct store *s, struct symbolizer *sym);

#endif
