/*
 * query: grouping, filtering and sorting the live set.
 *
 * Every grouping is the same three steps over one internal aggregate: walk
 * the live set, drop what the filters reject, add the rest to the group of
 * its key (agg_add); then turn the groups into a sorted list (agg_sort).
 * Only the key differs between "by stack", "by site", "by function", "by
 * thread" or "by size class": each of those is a key function handed to
 * agg_collect. A snapshot for diffs is the unsorted aggregate kept aside
 * (agg_entries, ordered by key), and a diff is two of them merged by key.
 * Only grouping by stack is exported today.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "query.h"

/* Maps a live allocation to the key of its group. */
typedef uint64_t (*agg_key_fn)(const struct live *l, const void *ctx);

/* One group in the aggregate. */
struct agg_entry {
	uint64_t key;
	struct group g;
	bool used;
};

/* The live set folded by key, plus totals over all that passed the filters. */
struct agg {
	const struct query *q;
	uint64_t now_ns;
	agg_key_fn key;
	const void *key_ctx;
	struct agg_entry *v;   /* open addressing, linear probing */
	size_t mask;           /* slots - 1 */
	size_t n;              /* groups */
	double total_bytes;
	double total_count;
	uint64_t total_samples;
	int err;               /* first error, sticky */
};

/* Returns true when l passes the filters of q at now_ns; *age is its age. */
static bool query_pass(const struct query *q, const struct live *l,
		       uint64_t now_ns, uint64_t *age)
{
	/* An allocation stamped after now (clocks read on different threads)
	 * is simply new, not from the future. */
	*age = now_ns > l->t_ns ? now_ns - l->t_ns : 0;
	if (*age < q->min_age_ns)
		return false;
	if (q->max_age_ns && *age > q->max_age_ns)
		return false;
	return l->size >= q->min_size;
}

/* Returns the slot of key in v (mask + 1 slots): its own or the empty one
 * where it belongs. */
static size_t agg_slot(const struct agg_entry *v, size_t mask, uint64_t key)
{
	size_t i = (size_t)((key * 0x9e3779b97f4a7c15ull) >> 17) & mask;
	while (v[i].used && v[i].key != key)
		i = (i + 1) & mask;
	return i;
}

/* Doubles the aggregate's slots; returns 0 or -ENOMEM. */
static int agg_grow(struct agg *a)
{
	size_t cap = a->v ? (a->mask + 1) * 2 : 64;
	struct agg_entry *nv = calloc(cap, sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	for (size_t i = 0; a->v && i <= a->mask; i++)
		if (a->v[i].used)
			nv[agg_slot(nv, cap - 1, a->v[i].key)] = a->v[i];
	free(a->v);
	a->v = nv;
	a->mask = cap - 1;
	return 0;
}

/* Adds a live allocation of the given age to the group of key. */
static void agg_add(struct agg *a, uint64_t key, const struct live *l, uint64_t age)
{
	if (a->err)
		return;
	if (!a->v || (a->n + 1) * 2 > a->mask + 1) {
		if ((a->err = agg_grow(a)) < 0)
			return;
	}
	struct agg_entry *e = &a->v[agg_slot(a->v, a->mask, key)];
	if (!e->used) {
		e->used = true;
		e->key = key;
		a->n++;
	}
	e->g.bytes += l->weight_bytes;
	e->g.count += l->weight_count;
	e->g.samples++;
	if (age > e->g.oldest_ns)
		e->g.oldest_ns = age;
	a->total_bytes += l->weight_bytes;
	a->total_count += l->weight_count;
	a->total_samples++;
}

/* store_foreach_live callback: filters one allocation and adds it. */
static void agg_visit(const struct live *l, void *arg)
{
	struct agg *a = arg;
	uint64_t age;
	if (query_pass(a->q, l, a->now_ns, &age))
		agg_add(a, a->key(l, a->key_ctx), l, age);
}

/* Folds the live set of s into a by key; returns 0 or -ENOMEM. */
static int agg_collect(struct agg *a, const struct store *s)
{
	store_foreach_live(s, agg_visit, a);
	return a->err;
}

/* Moves the groups of a to the front of a->v, so a->v[0..n) are they; the
 * slot table is no longer usable for lookups afterwards. */
static void agg_entries(struct agg *a)
{
	size_t k = 0;
	for (size_t i = 0; a->v && i <= a->mask; i++)
		if (a->v[i].used)
			a->v[k++] = a->v[i];
}

/* Returns the order of two groups: the sort key descending, then the group
 * key ascending, so equal groups always come out in the same order. */
static int agg_cmp(const void *x, const void *y, void *sortp)
{
	const struct agg_entry *a = x, *b = y;
	int c = 0;
	switch (*(const enum query_sort *)sortp) {
	case SORT_COUNT:
		c = (a->g.count < b->g.count) - (a->g.count > b->g.count);
		break;
	case SORT_AGE:
		c = (a->g.oldest_ns < b->g.oldest_ns) - (a->g.oldest_ns > b->g.oldest_ns);
		break;
	case SORT_BYTES:
	default:
		c = (a->g.bytes < b->g.bytes) - (a->g.bytes > b->g.bytes);
		break;
	}
	if (c)
		return c;
	return (a->key > b->key) - (a->key < b->key);
}

/* Sorts the groups of a as q says and fills r with the first q->top of them
 * (all when top is 0) and the totals; returns 0 or -ENOMEM. */
static int agg_sort(struct agg *a, const struct query *q, struct query_result *r)
{
	agg_entries(a);
	/* qsort_r, not a static sort key: queries may run on any thread */
	enum query_sort sort = q->sort;
	if (a->n > 1)
		qsort_r(a->v, a->n, sizeof(*a->v), agg_cmp, &sort);
	size_t keep = q->top && q->top < a->n ? q->top : a->n;
	r->groups = NULL;
	if (keep) {
		r->groups = malloc(keep * sizeof(*r->groups));
		if (!r->groups)
			return -ENOMEM;
		for (size_t i = 0; i < keep; i++)
			r->groups[i] = a->v[i].g;
	}
	r->ngroups = keep;
	r->ngroups_total = a->n;
	r->total_bytes = a->total_bytes;
	r->total_count = a->total_count;
	r->total_samples = a->total_samples;
	return 0;
}

/* Key function for grouping by stack: the stack id. */
static uint64_t key_stack(const struct live *l, const void *ctx)
{
	(void)ctx;
	return l->stack_id;
}

/* Groups the live set of s by stack as q says, ages measured at now_ns;
 * fills r (free it with query_result_free). Returns 0 or -ENOMEM. */
int query_by_stack(const struct store *s, const struct query *q,
		   uint64_t now_ns, struct query_result *r)
{
	static const struct query all = { .sort = SORT_BYTES };
	if (!q)
		q = &all;
	memset(r, 0, sizeof(*r));
	struct agg a = { .q = q, .now_ns = now_ns, .key = key_stack };
	int rc = agg_collect(&a, s);
	if (rc == 0) {
		/* Stamp the key into the group here: the aggregate is generic,
		 * struct group is the by-stack view of it. */
		for (size_t i = 0; a.v && i <= a.mask; i++)
			if (a.v[i].used)
				a.v[i].g.stack_id = (uint32_t)a.v[i].key;
		rc = agg_sort(&a, q, r);
	}
	free(a.v);
	if (rc < 0)
		query_result_free(r);
	return rc;
}

/* Frees what query_by_stack allocated; r is empty afterwards. */
void query_result_free(struct query_result *r)
{
	free(r->groups);
	memset(r, 0, sizeof(*r));
}
