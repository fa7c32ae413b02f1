/* query: grouping, filtering and sorting the live set. */
#ifndef LT_QUERY_H
#define LT_QUERY_H

#include "store.h"

enum query_sort { SORT_BYTES, SORT_COUNT, SORT_AGE };

struct query {
	uint64_t min_age_ns;  /* only allocations at least this old (0: all) */
	uint64_t max_age_ns;  /* only allocations at most this old (0: no limit) */
	uint64_t min_size;    /* only allocations of at least this many bytes */
	unsigned top;         /* at most this many groups (0: all) */
	enum query_sort sort;
};

/* The live allocations of one stack that passed the filters. */
struct group {
	uint32_t stack_id;
	double bytes;         /* estimated live bytes */
	double count;         /* estimated live allocations */
	uint64_t samples;     /* sampled allocations behind the estimate */
	uint64_t oldest_ns;   /* age of the oldest one at query time */
};

struct query_result {
	struct group *groups;  /* sorted as asked, at most top */
	size_t ngroups;
	size_t ngroups_total;  /* before top was applied */
	double total_bytes;    /* over everything that passed the filters */
	double total_count;
	uint64_t total_samples;
};

/* Groups the live set of s by stack as q says, ages measured at now_ns;
 * fills r (free it with query_result_free). Returns 0 or -ENOMEM. */
int query_by_stack(const struct store *s, const struct query *q,
		   uint64_t now_ns, struct query_result *r);

/* Frees what query_by_stack allocated. */
void query_result_free(struct query_result *r);

#endif
