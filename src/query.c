/* query: the live set grouped by stack, filtered and sorted. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "query.h"

struct agg {
	const struct query *q;
	uint64_t now;
	struct group *by_id;   /* indexed by stack id */
};

/* Adds one live block to its stack's group if it passes the filters. */
static void add(const struct live *l, void *arg)
{
	struct agg *a = arg;
	uint64_t age = a->now > l->t_ns ? a->now - l->t_ns : 0;
	if (age < a->q->min_age_ns || (a->q->max_age_ns && age > a->q->max_age_ns) ||
	    l->size < a->q->min_size)
		return;
	struct group *g = &a->by_id[l->stack_id];
	g->stack_id = l->stack_id;
	g->bytes += l->weight_bytes;
	g->count += l->weight_count;
	g->samples++;
	if (age > g->oldest_ns)
		g->oldest_ns = age;
}

static enum query_sort sort_key;

/* Orders groups by the sort key, descending, then by stack id. */
static int cmp_group(const void *x, const void *y)
{
	const struct group *a = x, *b = y;
	double ka, kb;
	switch (sort_key) {
	case SORT_COUNT: ka = a->count; kb = b->count; break;
	case SORT_AGE: ka = (double)a->oldest_ns; kb = (double)b->oldest_ns; break;
	default: ka = a->bytes; kb = b->bytes; break;
	}
	if (ka != kb)
		return ka > kb ? -1 : 1;
	return a->stack_id < b->stack_id ? -1 : a->stack_id > b->stack_id;
}

int query_by_stack(const struct store *s, const struct query *q, uint64_t now_ns, struct query_result *r)
{
	memset(r, 0, sizeof(*r));
	uint32_t n = store_stack_count(s);
	struct agg a = { q, now_ns, calloc((size_t)n + 1, sizeof(struct group)) };
	if (!a.by_id)
		return -ENOMEM;
	store_foreach_live(s, add, &a);
	size_t k = 0;
	for (uint32_t id = 1; id <= n; id++) {
		struct group *g = &a.by_id[id];
		if (!g->samples)
			continue;
		r->total_bytes += g->bytes;
		r->total_count += g->count;
		r->total_samples += g->samples;
		a.by_id[k++] = *g;
	}
	sort_key = q->sort;
	qsort(a.by_id, k, sizeof(*a.by_id), cmp_group);
	r->ngroups_total = k;
	r->ngroups = q->top && q->top < k ? q->top : k;
	r->groups = a.by_id;
	return 0;
}

void query_result_free(struct query_result *r)
{
	free(r->groups);
	memset(r, 0, sizeof(*r));
}
