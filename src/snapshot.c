/*
 * snapshot: the live set per stack at one moment, diffs, and leak suspects.
 *
 * A leak is not memory that is live, nor memory that is old: a cache is both.
 * It is memory that keeps piling up and is never given back. So each
 * snapshot also keeps, per stack, the bytes that were already "old" (at
 * least old_ns) when it was taken: churn never gets old, a cache gets old
 * once and stays flat, a big buffer freed later steps up and back down, and
 * a leak's old bytes climb in a straight line. snapshot_leaks fits that line.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "query.h"
#include "snapshot.h"

/* qsort comparator: groups by stack id. */
static int by_stack_id(const void *x, const void *y)
{
	const struct group *a = x, *b = y;
	return (a->stack_id > b->stack_id) - (a->stack_id < b->stack_id);
}

/* Returns the entry of stack id in snap, or NULL. */
static struct snap_entry *snap_find(const struct snapshot *snap, uint32_t id)
{
	size_t lo = 0, hi = snap->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (snap->v[mid].stack_id == id)
			return &snap->v[mid];
		if (snap->v[mid].stack_id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

int snapshot_take(const struct store *s, uint64_t now_ns, uint64_t old_ns,
		  struct snapshot *snap)
{
	struct query all = { .sort = SORT_BYTES }, old = { .sort = SORT_BYTES, .min_age_ns = old_ns };
	struct query_result ra, ro;
	memset(snap, 0, sizeof(*snap));
	if (query_by_stack(s, &all, now_ns, &ra) < 0)
		return -ENOMEM;
	if (query_by_stack(s, &old, now_ns, &ro) < 0) {
		query_result_free(&ra);
		return -ENOMEM;
	}
	snap->t_ns = now_ns;
	snap->old_ns = old_ns;
	snap->total_bytes = ra.total_bytes;
	snap->total_count = ra.total_count;
	snap->v = calloc(ra.ngroups ? ra.ngroups : 1, sizeof(*snap->v));
	if (!snap->v) {
		query_result_free(&ra);
		query_result_free(&ro);
		return -ENOMEM;
	}
	qsort(ra.groups, ra.ngroups, sizeof(*ra.groups), by_stack_id);
	for (size_t i = 0; i < ra.ngroups; i++)
		snap->v[snap->n++] = (struct snap_entry){ ra.groups[i].stack_id,
			ra.groups[i].bytes, ra.groups[i].count, 0 };
	for (size_t i = 0; i < ro.ngroups; i++) {
		struct snap_entry *e = snap_find(snap, ro.groups[i].stack_id);
		if (e)
			e->old_bytes = ro.groups[i].bytes;
	}
	query_result_free(&ra);
	query_result_free(&ro);
	return 0;
}

void snapshot_free(struct snapshot *snap)
{
	free(snap->v);
	snap->v = NULL;
	snap->n = 0;
}

/* qsort comparator: diff rows by growth, largest first, then by stack id. */
static int by_growth(const void *x, const void *y)
{
	const struct diff_row *a = x, *b = y;
	if (a->d_bytes != b->d_bytes)
		return a->d_bytes < b->d_bytes ? 1 : -1;
	return (a->stack_id > b->stack_id) - (a->stack_id < b->stack_id);
}

long snapshot_diff(const struct snapshot *a, const struct snapshot *b,
		   struct diff_row **rows)
{
	struct diff_row *v = calloc(a->n + b->n + 1, sizeof(*v));
	size_t n = 0, i = 0, j = 0;
	if (!v)
		return -ENOMEM;
	/* both are ordered by stack id: a merge */
	while (i < a->n || j < b->n) {
		const struct snap_entry *ea = NULL, *eb = NULL;
		if (j >= b->n || (i < a->n && a->v[i].stack_id < b->v[j].stack_id))
			ea = &a->v[i++];
		else if (i >= a->n || b->v[j].stack_id < a->v[i].stack_id)
			eb = &b->v[j++];
		else
			ea = &a->v[i++], eb = &b->v[j++];
		struct diff_row r = { .stack_id = ea ? ea->stack_id : eb->stack_id };
		r.a_bytes = ea ? ea->bytes : 0;
		r.a_count = ea ? ea->count : 0;
		r.b_bytes = eb ? eb->bytes : 0;
		r.b_count = eb ? eb->count : 0;
		r.d_bytes = r.b_bytes - r.a_bytes;
		r.d_count = r.b_count - r.a_count;
		if (!ea)
			r.mark = DIFF_NEW;
		else if (!eb)
			r.mark = DIFF_GONE;
		else if (r.d_bytes > 0 || (r.d_bytes == 0 && r.d_count > 0))
			r.mark = DIFF_GROWN;
		else if (r.d_bytes < 0 || r.d_count < 0)
			r.mark = DIFF_SHRUNK;
		else
			continue;	/* unchanged */
		v[n++] = r;
	}
	qsort(v, n, sizeof(*v), by_growth);
	*rows = v;
	return (long)n;
}

/* qsort comparator: suspects by score, best first, then by stack id. */
static int by_score(const void *x, const void *y)
{
	const struct leak_row *a = x, *b = y;
	if (a->score != b->score)
		return a->score < b->score ? 1 : -1;
	return (a->stack_id > b->stack_id) - (a->stack_id < b->stack_id);
}

/* Fits old bytes of stack id over the series by least squares; fills the
 * rate, r2 and step counts of row. */
static void fit(const struct snapshot *const *series, size_t n, uint32_t id,
		struct leak_row *row)
{
	double sx = 0, sy = 0, sxx = 0, sxy = 0, syy = 0, prev = 0;
	for (size_t i = 0; i < n; i++) {
		const struct snap_entry *e = snap_find(series[i], id);
		double x = (double)(series[i]->t_ns - series[0]->t_ns) / 1e9;
		double y = e ? e->old_bytes : 0;
		sx += x, sy += y, sxx += x * x, sxy += x * y, syy += y * y;
		if (i > 0) {
			row->steps++;
			row->grew += y > prev;
		}
		prev = y;
		if (i == n - 1) {
			row->old_bytes = y;
			row->bytes = e ? e->bytes : 0;
		}
	}
	double dn = (double)n, vx = dn * sxx - sx * sx, vy = dn * syy - sy * sy;
	double cov = dn * sxy - sx * sy;
	row->rate = vx > 0 ? cov / vx : 0;
	row->r2 = vx > 0 && vy > 0 ? cov * cov / (vx * vy) : 0;
	row->score = row->rate > 0 ? row->rate * row->r2 : 0;
}

long snapshot_leaks(const struct snapshot *const *series, size_t n,
		    struct leak_row **rows)
{
	if (n < 3)
		return -EINVAL;
	/* every stack seen in any snapshot of the series is a candidate */
	size_t cap = 0;
	for (size_t i = 0; i < n; i++)
		cap += series[i]->n;
	struct leak_row *v = calloc(cap + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < series[i]->n; j++) {
			uint32_t id = series[i]->v[j].stack_id;
			bool seen = false;
			for (size_t p = 0; p < i && !seen; p++)
				seen = snap_find(series[p], id) != NULL;
			if (seen)
				continue;
			struct leak_row row = { .stack_id = id };
			fit(series, n, id, &row);
			if (row.rate > 0 && row.r2 >= 0.5 && row.grew * 2 >= row.steps &&
			    row.old_bytes > 0)
				v[k++] = row;
		}
	qsort(v, k, sizeof(*v), by_score);
	*rows = v;
	return (long)k;
}
