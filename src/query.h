/* query: grouping, filtering and sorting the live set. */
#ifndef LT_QUERY_H
#define LT_QUERY_H

#include "store.h"

enum query_sort { SORT_BYTES, SORT_COUNT, SORT_AGE };

/* What the live set is grouped by. */
enum query_by { BY_STACK, BY_SITE, BY_FUNC, BY_MODULE, BY_THREAD, BY_SIZE };

/* Writes the group keys of one stack into keys[0..max) and returns how many
 * (BY_SITE and BY_MODULE: one; BY_FUNC: every function in it, once each). */
typedef int (*query_stack_keys_fn)(void *ctx, uint32_t stack_id, uint64_t *keys, int max);

struct query {
	uint64_t min_age_ns;  /* only allocations at least this old (0: all) */
	uint64_t max_age_ns;  /* only allocations at most this old (0: no limit) */
	uint64_t min_size;    /* only allocations of at least this many bytes */
	unsigned top;         /* at most this many groups (0: all) */
	enum query_sort sort;
	enum query_by by;
	query_stack_keys_fn stack_keys;  /* for BY_SITE, BY_FUNC, BY_MODULE */
	void *keys_ctx;
};

/* The live allocations of one group that passed the filters. */
struct group {
	uint64_t key;         /* by stack: the stack id; by thread: the tid; by size:
	                       * the power-of-two class (see query_size_class);
	                       * otherwise what stack_keys returned */
	uint32_t stack_id;    /* by stack: the stack; otherwise the stack holding
	                       * the most bytes of the group, as its example */
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

/* Groups the live set of s as q says (q->by), ages measured at now_ns;
 * fills r (free it with query_result_free). Totals count every allocation
 * once, even when BY_FUNC puts it in several groups. Returns 0 or -ENOMEM. */
int query_live(const struct store *s, const struct query *q,
	       uint64_t now_ns, struct query_result *r);

/* query_live grouped by stack whatever q->by says. */
int query_by_stack(const struct store *s, const struct query *q,
		   uint64_t now_ns, struct query_result *r);

/* Returns the size class of a size: its bit length, so class c holds sizes
 * [2^(c-1), 2^c) and class 0 holds size 0. */
unsigned query_size_class(uint64_t size);

/* Frees what query_by_stack allocated. */
void query_result_free(struct query_result *r);

#endif
