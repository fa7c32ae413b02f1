/*
 * query: grouping, filtering and sorting the live set.
 *
 * Every grouping is the same three steps over one internal aggregate: walk
 * the live set, drop what the filters reject, add the rest to the group of
 * its key (agg_add); then turn the groups into a sorted list (agg_sort).
 * Only the key differs between "by stack", "by site", "by function", "by
 * thread" or "by size class": each of those is a key function handed to
 * agg_collect. Groupings by symbol (site, function, module) are a property
 * of the stack, not of the allocation, so they fold the by-stack groups
 * instead of walking the live set again: the symbolizer is then asked once
 * per stack, not once per allocation.
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
	double example_bytes;  /* bytes behind g.stack_id, the group's example */
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

/* Returns the group of key in a, creating it; NULL when out of memory. */
static struct agg_entry *agg_group(struct agg *a, uint64_t key)
{
	if (a->err)
		return NULL;
	if (!a->v || (a->n + 1) * 2 > a->mask + 1) {
		if ((a->err = agg_grow(a)) < 0)
			return NULL;
	}
	struct agg_entry *e = &a->v[agg_slot(a->v, a->mask, key)];
	if (!e->used) {
		e->used = true;
		e->key = key;
		a->n++;
	}
	return e;
}

/* Adds part of the live set (bytes, count, samples, oldest age, found on
 * stack_id) to the group of key. */
static void agg_add(struct agg *a, uint64_t key, const struct group *part)
{
	struct agg_entry *e = agg_group(a, key);
	if (!e)
		return;
	e->g.bytes += part->bytes;
	e->g.count += part->count;
	e->g.samples += part->samples;
	if (part->oldest_ns > e->g.oldest_ns)
		e->g.oldest_ns = part->oldest_ns;
	if (!e->g.stack_id || part->bytes > e->example_bytes) {
		e->g.stack_id = part->stack_id;
		e->example_bytes = part->bytes;
	}
}

/* Counts part in the totals of a. */
static void agg_total(struct agg *a, const struct group *part)
{
	a->total_bytes += part->bytes;
	a->total_count += part->count;
	a->total_samples += part->samples;
}

/* store_foreach_live callback: filters one allocation and adds it. */
static void agg_visit(const struct live *l, void *arg)
{
	struct agg *a = arg;
	uint64_t age;
	if (!query_pass(a->q, l, a->now_ns, &age))
		return;
	struct group part = { .bytes = l->weight_bytes, .count = l->weight_count,
			      .samples = 1, .oldest_ns = age, .stack_id = l->stack_id };
	agg_add(a, a->key(l, a->key_ctx), &part);
	agg_total(a, &part);
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

/* Key function for grouping by thread: the allocating thread. */
static uint64_t key_thread(const struct live *l, const void *ctx)
{
	(void)ctx;
	return (uint64_t)l->tid;
}

unsigned query_size_class(uint64_t size)
{
	return size ? 64 - (unsigned)__builtin_clzll(size) : 0;
}

/* Key function for grouping by size: the power-of-two class. */
static uint64_t key_size(const struct live *l, const void *ctx)
{
	(void)ctx;
	return query_size_class(l->size);
}

/* Folds the by-stack groups of byst into a by the keys q->stack_keys gives
 * each stack; totals stay those of byst, so nothing is counted twice. */
static void agg_fold(struct agg *a, const struct agg *byst, const struct query *q)
{
	uint64_t keys[LT_MAX_FRAMES * 4];
	for (size_t i = 0; byst->v && i <= byst->mask; i++) {
		const struct agg_entry *st = &byst->v[i];
		if (!st->used)
			continue;
		int n = q->stack_keys(q->keys_ctx, (uint32_t)st->key, keys,
				      (int)(sizeof(keys) / sizeof(keys[0])));
		for (int k = 0; k < n; k++)
			agg_add(a, keys[k], &st->g);
	}
	a->total_bytes = byst->total_bytes;
	a->total_count = byst->total_count;
	a->total_samples = byst->total_samples;
}

int query_live(const struct store *s, const struct query *q,
	       uint64_t now_ns, struct query_result *r)
{
	static const struct query all = { .sort = SORT_BYTES };
	if (!q)
		q = &all;
	memset(r, 0, sizeof(*r));
	agg_key_fn key = q->by == BY_THREAD ? key_thread : q->by == BY_SIZE ? key_size : key_stack;
	struct agg a = { .q = q, .now_ns = now_ns, .key = key };
	struct agg folded = { .q = q, .now_ns = now_ns };
	struct agg *res = &a;
	int rc = agg_collect(&a, s);
	if (rc == 0 && (q->by == BY_SITE || q->by == BY_FUNC || q->by == BY_MODULE)) {
		if (!q->stack_keys)
			rc = -EINVAL;
		else {
			agg_fold(&folded, &a, q);
			rc = folded.err;
			res = &folded;
		}
	}
	if (rc == 0) {
		for (size_t i = 0; res->v && i <= res->mask; i++)
			if (res->v[i].used)
				res->v[i].g.key = res->v[i].key;
		rc = agg_sort(res, q, r);
	}
	free(a.v);
	free(folded.v);
	if (rc < 0)
		query_result_free(r);
	return rc;
}

int query_by_stack(const struct store *s, const struct query *q,
		   uint64_t now_ns, struct query_result *r)
{
	struct query byst = q ? *q : (struct query){ .sort = SORT_BYTES };
	byst.by = BY_STACK;
	return query_live(s, &byst, now_ns, r);
}

/* Frees what query_by_stack allocated; r is empty afterwards. */
void query_result_free(struct query_result *r)
{
	free(r->groups);
	memset(r, 0, sizeof(*r));
}
