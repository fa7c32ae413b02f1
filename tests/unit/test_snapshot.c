/* test_snapshot: the groupings of query_live (thread, size class, folding
 * stacks into keys with totals counted once), snapshots, diffs (grown,
 * shrunk, new, gone, unchanged left out, order) and leak suspects (a steady
 * climb is one; flat, stepping and shrinking series are not; ranking).
 * Prints "ok N - ..." / "not ok N - ..."; exits 0 iff every check passed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query.h"
#include "snapshot.h"
#include "store.h"

static int failures, checks;
#define CHECK(cond, ...) do { checks++; if (cond) printf("ok %d - ", checks); \
	else { failures++; printf("not ok %d - ", checks); } printf(__VA_ARGS__); printf("\n"); } while (0)

#define SEC 1000000000ull

/* Adds a live allocation of size bytes (weight = size, count 1). */
static void add(struct store *s, taddr_t addr, uint64_t size, uint32_t stack, pid_t tid, uint64_t t)
{
	store_alloc(s, &(struct live){ .addr = addr, .size = size, .weight_bytes = (double)size,
		    .weight_count = 1, .stack_id = stack, .tid = tid, .t_ns = t });
}

/* Stack keys for the fold test: stack 1 -> {10, 11}, stack 2 -> {11}, stack 3 -> {12}. */
static int test_keys(void *ctx, uint32_t id, uint64_t *keys, int max)
{
	static const uint64_t k1[] = { 10, 11 }, k2[] = { 11 }, k3[] = { 12 };
	const uint64_t *k = id == 1 ? k1 : id == 2 ? k2 : k3;
	int n = id == 1 ? 2 : 1;
	for (int i = 0; i < n && i < max; i++)
		keys[i] = k[i];
	return n;
}

/* Returns the group with key in r, or NULL. */
static const struct group *find(const struct query_result *r, uint64_t key)
{
	for (size_t i = 0; i < r->ngroups; i++)
		if (r->groups[i].key == key)
			return &r->groups[i];
	return NULL;
}

static void test_groupings(void)
{
	struct store *s = store_new();
	taddr_t f1[] = { 0x1000, 0x2000 }, f2[] = { 0x1100, 0x2000 }, f3[] = { 0x1200 };
	uint32_t s1 = store_intern_stack(s, f1, 2), s2 = store_intern_stack(s, f2, 2),
		 s3 = store_intern_stack(s, f3, 1);
	CHECK(s1 == 1 && s2 == 2 && s3 == 3, "stack ids 1, 2, 3");
	uint64_t now = 100 * SEC;
	add(s, 0xa0, 100, s1, 7, now - 5 * SEC);
	add(s, 0xa1, 100, s1, 8, now - 1 * SEC);
	add(s, 0xa2, 3000, s2, 7, now - 9 * SEC);
	add(s, 0xa3, 1, s3, 9, now);
	struct query_result r;

	struct query q = { .by = BY_THREAD };
	query_live(s, &q, now, &r);
	const struct group *g7 = find(&r, 7);
	CHECK(r.ngroups == 3 && g7 && g7->bytes == 3100 && g7->count == 2 && g7->oldest_ns == 9 * SEC,
	      "by thread: tid 7 holds 3100 bytes in 2, oldest 9 s");
	CHECK(g7 && g7->stack_id == s2, "by thread: its example stack is the one with most bytes (%u)",
	      g7 ? g7->stack_id : 0);
	CHECK(r.groups[0].key == 7, "by thread: sorted by bytes");
	query_result_free(&r);

	q = (struct query){ .by = BY_SIZE };
	query_live(s, &q, now, &r);
	CHECK(query_size_class(0) == 0 && query_size_class(1) == 1 && query_size_class(100) == 7 &&
	      query_size_class(128) == 8 && query_size_class(3000) == 12, "size classes are bit lengths");
	const struct group *c7 = find(&r, 7);
	CHECK(r.ngroups == 3 && c7 && c7->count == 2 && c7->bytes == 200, "by size: [64, 128) holds the two 100s");
	query_result_free(&r);

	q = (struct query){ .by = BY_FUNC, .stack_keys = test_keys };
	query_live(s, &q, now, &r);
	const struct group *k10 = find(&r, 10), *k11 = find(&r, 11), *k12 = find(&r, 12);
	CHECK(k10 && k10->bytes == 200 && k11 && k11->bytes == 3200 && k12 && k12->bytes == 1,
	      "by func: a key gets every stack it is in (10: 200, 11: 3200, 12: 1)");
	CHECK(r.total_bytes == 3201 && r.total_count == 4 && r.total_samples == 4,
	      "by func: totals count each allocation once (%.0f bytes)", r.total_bytes);
	CHECK(k11 && k11->stack_id == s2, "by func: key 11's example stack is stack 2");
	query_result_free(&r);

	q = (struct query){ .by = BY_FUNC, .stack_keys = test_keys, .min_age_ns = 2 * SEC };
	query_live(s, &q, now, &r);
	k10 = find(&r, 10);
	CHECK(k10 && k10->bytes == 100 && !find(&r, 12), "by func: filters apply before folding");
	query_result_free(&r);

	q = (struct query){ .by = BY_SITE };
	CHECK(query_live(s, &q, now, &r) < 0, "by site without a key function is refused");
	query_result_free(&r);
	store_free(s);
}

static void test_diff(void)
{
	struct store *s = store_new();
	taddr_t f[4][1] = { { 0x10 }, { 0x20 }, { 0x30 }, { 0x40 } };
	for (int i = 0; i < 4; i++)
		store_intern_stack(s, f[i], 1);
	add(s, 0x100, 1000, 1, 1, 0);	/* grows */
	add(s, 0x200, 5000, 2, 1, 0);	/* shrinks */
	add(s, 0x201, 5000, 2, 1, 0);
	add(s, 0x300, 700, 3, 1, 0);	/* goes */
	add(s, 0x500, 10, 4, 1, 0);	/* unchanged */
	struct snapshot a, b;
	snapshot_take(s, 10 * SEC, 2 * SEC, &a);
	add(s, 0x101, 9000, 1, 1, 0);
	store_free_addr(s, 0x201);
	store_free_addr(s, 0x300);
	store_intern_stack(s, (taddr_t[]){ 0x50 }, 1);
	add(s, 0x600, 42, 5, 1, 0);	/* new */
	snapshot_take(s, 20 * SEC, 2 * SEC, &b);
	struct diff_row *rows;
	long n = snapshot_diff(&a, &b, &rows);
	CHECK(n == 4, "diff: 4 stacks changed, the unchanged one left out (%ld)", n);
	CHECK(n == 4 && rows[0].stack_id == 1 && rows[0].mark == DIFF_GROWN && rows[0].d_bytes == 9000,
	      "diff: the grown stack first, +9000");
	CHECK(n == 4 && rows[1].stack_id == 5 && rows[1].mark == DIFF_NEW && rows[1].d_bytes == 42,
	      "diff: then the new one, +42");
	CHECK(n == 4 && rows[2].stack_id == 3 && rows[2].mark == DIFF_GONE && rows[2].b_bytes == 0,
	      "diff: then the gone one, -700");
	CHECK(n == 4 && rows[3].stack_id == 2 && rows[3].mark == DIFF_SHRUNK && rows[3].d_count == -1,
	      "diff: the shrunk one last, -5000, one fewer");
	free(rows);
	snapshot_free(&a);
	snapshot_free(&b);
	store_free(s);
}

static void test_leaks(void)
{
	/* Four stacks over 8 snapshots 2 s apart, old bytes as given. */
	static const double series[4][8] = {
		{ 0, 100, 200, 300, 400, 500, 600, 700 },          /* a steady leak */
		{ 5000, 5000, 5000, 5000, 5000, 5000, 5000, 5000 },/* a cache */
		{ 0, 9e6, 9e6, 9e6, 0, 0, 0, 0 },                  /* a big buffer freed later */
		{ 0, 1000, 3000, 2000, 4000, 5000, 7000, 6000 },   /* a noisier, faster leak */
	};
	struct snapshot snaps[8];
	const struct snapshot *p[8];
	for (int i = 0; i < 8; i++) {
		snaps[i] = (struct snapshot){ .t_ns = (uint64_t)i * 2 * SEC, .old_ns = 2 * SEC };
		snaps[i].v = calloc(4, sizeof(*snaps[i].v));
		for (int k = 0; k < 4; k++)
			if (series[k][i] > 0)
				snaps[i].v[snaps[i].n++] = (struct snap_entry){ (uint32_t)k + 1,
					series[k][i] * 1.5, 1, series[k][i] };
		p[i] = &snaps[i];
	}
	struct leak_row *rows;
	long n = snapshot_leaks(p, 2, &rows);
	CHECK(n < 0, "leaks: fewer than 3 snapshots are refused");
	n = snapshot_leaks(p, 8, &rows);
	CHECK(n == 2, "leaks: two suspects (%ld)", n);
	CHECK(n == 2 && rows[0].stack_id == 4 && rows[1].stack_id == 1,
	      "leaks: the faster leak first, then the steady one");
	CHECK(n == 2 && fabs(rows[1].rate - 50) < 1e-6 && fabs(rows[1].r2 - 1) < 1e-9 &&
	      rows[1].grew == 7 && rows[1].steps == 7 && rows[1].old_bytes == 700,
	      "leaks: the steady leak grows 50 B/s, r2 1, 7 of 7 intervals");
	free(rows);
	for (int i = 0; i < 8; i++)
		snapshot_free(&snaps[i]);
}

int main(void)
{
	test_groupings();
	test_diff();
	test_leaks();
	printf("%d of %d checks passed\n", checks - failures, checks);
	return failures != 0;
}
