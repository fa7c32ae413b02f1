/* test_store: the stack and live tables (dedup, stable ids, replace, churn
 * with bounded memory, consistency against a reference), the by-stack query
 * (filters, sorting, top, totals) and both report formats (JSON parsed back
 * by python3, text with and without estimates, write errors).
 * Prints "ok N - ..." / "not ok N - ..."; "# ..." lines are measurements.
 * Exits 0 iff every check passed. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store.h"
#include "query.h"
#include "report.h"

static int failures, checks;
#define CHECK(cond, ...) do { checks++; if (cond) printf("ok %d - ", checks); \
	else { failures++; printf("not ok %d - ", checks); } printf(__VA_ARGS__); printf("\n"); } while (0)

#define MS 1000000ull
#define SEC 1000000000ull

/* Returns CLOCK_MONOTONIC in nanoseconds. */
static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * SEC + (uint64_t)ts.tv_nsec;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

/* Returns the next number of a small fast PRNG (xorshift64*), so runs are
 * repeatable. */
static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

/* A plausible heap address: 16-aligned, scattered over 64 GiB, and never
 * the same twice (an odd multiplier is a bijection on 32 bits), so a test
 * that frees what it allocated never meets an address reused behind its back. */
static taddr_t heap_addr(void)
{
	static uint32_t n;
	return 0x7f0000000000ull + ((uint64_t)(++n * 0x9e3779b1u) << 4);
}

/* ---- stacks ---- */

/* Stack dedup, dense stable ids, clamping, growth. */
static void test_stacks(void)
{
	struct store *s = store_new();
	taddr_t a[3] = { 0x401000, 0x402000, 0x403000 };
	taddr_t b[3] = { 0x401000, 0x402000, 0x403001 };
	uint32_t ia = store_intern_stack(s, a, 3);
	uint32_t ib = store_intern_stack(s, b, 3);
	uint32_t ia2 = store_intern_stack(s, a, 3);
	uint32_t ia_short = store_intern_stack(s, a, 2);
	CHECK(ia == 1 && ib == 2 && ia2 == 1 && ia_short == 3,
	      "stack ids 1,2,3 in order of first sight, same stack same id (%u %u %u %u)",
	      ia, ib, ia2, ia_short);

	const struct stack *st = store_stack(s, ib);
	CHECK(st && st->id == ib && st->nframes == 3 && st->frames[2] == 0x403001,
	      "store_stack returns the frames");
	CHECK(!store_stack(s, 0) && !store_stack(s, 4) && store_stack_count(s) == 3,
	      "store_stack(0) and past the end are NULL; count 3");

	uint32_t iempty = store_intern_stack(s, NULL, 0);
	CHECK(iempty == 4 && store_intern_stack(s, NULL, 0) == 4 && store_stack(s, 4)->nframes == 0,
	      "an empty stack is a stack of its own");

	taddr_t deep[100];
	for (int i = 0; i < 100; i++)
		deep[i] = 0x500000 + (taddr_t)i * 16;
	uint32_t id100 = store_intern_stack(s, deep, 100);
	uint32_t id64 = store_intern_stack(s, deep, LT_MAX_FRAMES);
	CHECK(id100 == id64 && store_stack(s, id100)->nframes == LT_MAX_FRAMES,
	      "stacks are clamped to LT_MAX_FRAMES");

	/* Many stacks: ids stay dense and stable through every table growth,
	 * and a pointer from store_stack stays valid. */
	const struct stack *keep = store_stack(s, ia);
	uint32_t first = store_stack_count(s) + 1;
	bool dense = true;
	for (uint32_t i = 0; i < 100000; i++) {
		taddr_t f[4] = { 0x600000 + i, 0x700000, i * 7919u, 42 };
		if (store_intern_stack(s, f, 1 + i % 4) != first + i)
			dense = false;
	}
	bool stable = true;
	for (uint32_t i = 0; i < 100000; i += 7) {
		taddr_t f[4] = { 0x600000 + i, 0x700000, i * 7919u, 42 };
		if (store_intern_stack(s, f, 1 + i % 4) != first + i)
			stable = false;
	}
	CHECK(dense && stable && store_stack_count(s) == first + 99999,
	      "100000 new stacks get consecutive ids, found again with the same ids");
	CHECK(keep == store_stack(s, ia) && keep->frames[0] == 0x401000 &&
	      store_intern_stack(s, a, 3) == ia,
	      "earlier stacks keep their id and address after growth");
	printf("# stack table: %.1f bytes per 1-4 frame stack\n",
	       (double)store_mem_bytes(s) / store_stack_count(s));
	store_free(s);
}

/* ---- live table ---- */

struct sum { size_t n; uint64_t size; uint64_t xor_addr; };

/* store_foreach_live callback: adds l to the struct sum at arg. */
static void sum_live(const struct live *l, void *arg)
{
	struct sum *m = arg;
	m->n++;
	m->size += l->size;
	m->xor_addr ^= l->addr;
}

/* Replace on a live address, free once, address 0. */
static void test_live_basic(void)
{
	struct store *s = store_new();
	store_alloc(s, &(struct live){ .addr = 0x1000, .size = 10, .stack_id = 1 });
	store_alloc(s, &(struct live){ .addr = 0x1000, .size = 99, .stack_id = 2 });
	struct sum m = { 0 };
	store_foreach_live(s, sum_live, &m);
	CHECK(store_live_count(s) == 1 && m.n == 1 && m.size == 99,
	      "an allocation at a live address replaces the old entry");
	CHECK(store_free_addr(s, 0x1000) && !store_free_addr(s, 0x1000) &&
	      !store_free_addr(s, 0x2000) && store_live_count(s) == 0,
	      "free removes once; unknown addresses are not found");

	store_alloc(s, &(struct live){ .addr = 0, .size = 5 });
	store_alloc(s, &(struct live){ .addr = 0x10, .size = 6 });
	m = (struct sum){ 0 };
	store_foreach_live(s, sum_live, &m);
	CHECK(store_live_count(s) == 2 && m.n == 2 && m.size == 11 &&
	      store_free_addr(s, 0) && !store_free_addr(s, 0) && store_live_count(s) == 1,
	      "address 0 is an address like any other");
	store_free(s);
}

/* Random operations on a small universe of addresses, checked against a
 * plain array: exercises replace, probe runs across the end of the table,
 * backward shift, growth and shrinking. */
static void test_live_reference(void)
{
	enum { U = 6000 };
	static uint64_t want[U];     /* size+1 of the live entry, 0 = none */
	static taddr_t addrs[U];
	struct store *s = store_new();
	for (int i = 0; i < U; i++)
		addrs[i] = heap_addr();
	bool ok = true;
	size_t live = 0;
	for (int round = 0; round < 2000000 && ok; round++) {
		int i = (int)(rnd() % U);
		/* phases: mostly inserts, then mostly frees, then mixed */
		unsigned bias = round < 600000 ? 80 : round < 1400000 ? 15 : 50;
		if (rnd() % 100 < bias) {
			uint64_t size = rnd() % 1000;
			if (store_alloc(s, &(struct live){ .addr = addrs[i], .size = size }) < 0)
				ok = false;
			live += want[i] == 0;
			want[i] = size + 1;
		} else {
			bool had = store_free_addr(s, addrs[i]);
			if (had != (want[i] != 0))
				ok = false;
			live -= want[i] != 0;
			want[i] = 0;
		}
		if (store_live_count(s) != live)
			ok = false;
	}
	struct sum m = { 0 };
	store_foreach_live(s, sum_live, &m);
	uint64_t wsize = 0;
	for (int i = 0; i < U; i++)
		wsize += want[i] ? want[i] - 1 : 0;
	CHECK(ok && m.n == live && m.size == wsize,
	      "2M random allocs/frees agree with a reference (%zu live)", live);
	store_free(s);
}

/* 1M live entries in, all out, and the table gives the memory back. */
static void test_live_million(void)
{
	enum { N = 1000000 };
	taddr_t *v = malloc(N * sizeof(*v));
	struct store *s = store_new();
	size_t empty = store_mem_bytes(s);
	bool ok = true;
	for (size_t i = 0; i < N; i++) {
		v[i] = 0x560000000000ull + (taddr_t)i * 48;  /* dense, like a real heap */
		if (store_alloc(s, &(struct live){ .addr = v[i], .size = 48, .stack_id = 1 }) < 0)
			ok = false;
	}
	size_t full = store_mem_bytes(s);
	CHECK(ok && store_live_count(s) == N, "1M live allocations recorded");
	printf("# 1M live: %.1f bytes of store memory per live entry\n", (double)full / N);
	for (size_t i = 0; i < N; i += 2)
		if (!store_free_addr(s, v[i]))
			ok = false;
	for (size_t i = 1; i < N; i += 2)
		if (!store_free_addr(s, v[i]))
			ok = false;
	CHECK(ok && store_live_count(s) == 0, "all 1M freed, each found");
	CHECK(store_mem_bytes(s) <= empty * 2,
	      "the live table shrinks back after the peak (%zu -> %zu -> %zu bytes)",
	      empty, full, store_mem_bytes(s));
	store_free(s);
	free(v);
}

/* ~1000 live, 10M alloc+free pairs of fresh addresses: the table must not
 * grow (no tombstones piling up). */
static void test_live_churn(void)
{
	enum { LIVE = 1000, PAIRS = 10000000 };
	static taddr_t ring[LIVE];
	struct store *s = store_new();
	for (int i = 0; i < LIVE; i++) {
		ring[i] = heap_addr();
		store_alloc(s, &(struct live){ .addr = ring[i], .size = 32 });
	}
	size_t before = store_mem_bytes(s);
	size_t peak = before;
	bool ok = true;
	for (int i = 0; i < PAIRS; i++) {
		int k = i % LIVE;
		if (!store_free_addr(s, ring[k]))
			ok = false;
		ring[k] = heap_addr();
		store_alloc(s, &(struct live){ .addr = ring[k], .size = 32 });
		if ((i & 0xffff) == 0 && store_mem_bytes(s) > peak)
			peak = store_mem_bytes(s);
	}
	for (int i = 0; i < LIVE; i++)
		if (!store_free_addr(s, ring[i]))
			ok = false;
	CHECK(ok && store_live_count(s) == 0,
	      "10M churn pairs at ~1000 live: every free finds its allocation");
	CHECK(peak == before && peak < 256 * 1024,
	      "memory bounded under churn (%zu bytes before, %zu at most during)", before, peak);
	store_free(s);
}

/* Measures ns per store_alloc + store_free_addr pair at 100k live. */
static void bench_pairs(void)
{
	enum { LIVE = 100000, PAIRS = 10000000 };
	taddr_t *ring = malloc(LIVE * sizeof(*ring));
	struct store *s = store_new();
	for (int i = 0; i < LIVE; i++) {
		ring[i] = heap_addr();
		store_alloc(s, &(struct live){ .addr = ring[i], .size = 64, .t_ns = 1 });
	}
	printf("# 100k live: %.1f bytes of store memory per live entry\n",
	       (double)store_mem_bytes(s) / LIVE);
	uint64_t t0 = now_ns();
	unsigned misses = 0;
	for (int i = 0; i < PAIRS; i++) {
		int k = i % LIVE;
		misses += !store_free_addr(s, ring[k]);
		ring[k] = heap_addr();
		store_alloc(s, &(struct live){ .addr = ring[k], .size = 64, .t_ns = (uint64_t)i });
	}
	uint64_t t1 = now_ns();
	printf("# 100k live: %.1f ns per store_alloc+store_free_addr pair\n",
	       (double)(t1 - t0) / PAIRS);
	CHECK(misses == 0 && store_live_count(s) == LIVE, "100k-live benchmark consistent");
	store_free(s);
	free(ring);
}

/* ---- queries ---- */

/* Builds the store the query and report tests share; now is 100 s.
 *   stack 1: 3 x 1000 B, ages 10 s, 20 s, 30 s      -> 3000 B
 *   stack 2: 1 x 5000 B, age 1 s                     -> 5000 B
 *   stack 3: 5 x 100 B, age 50 s                     ->  500 B
 *   stack 4: 1 x 3000 B, age 40 s (ties stack 1)     -> 3000 B */
static struct store *fixture(void)
{
	struct store *s = store_new();
	taddr_t f1[] = { 0x401010, 0x401500 }, f2[] = { 0x402020 }, f3[] = { 0x403030 },
		f4[] = { 0x404040, 0x401500 };
	store_intern_stack(s, f1, 2);
	store_intern_stack(s, f2, 1);
	store_intern_stack(s, f3, 1);
	store_intern_stack(s, f4, 2);
	uint64_t now = 100 * SEC;
	store_alloc(s, &(struct live){ .addr = 0x1000, .size = 1000, .weight_bytes = 1000,
		    .weight_count = 1, .stack_id = 1, .t_ns = now - 10 * SEC });
	store_alloc(s, &(struct live){ .addr = 0x2000, .size = 1000, .weight_bytes = 1000,
		    .weight_count = 1, .stack_id = 1, .t_ns = now - 20 * SEC });
	store_alloc(s, &(struct live){ .addr = 0x3000, .size = 1000, .weight_bytes = 1000,
		    .weight_count = 1, .stack_id = 1, .t_ns = now - 30 * SEC });
	store_alloc(s, &(struct live){ .addr = 0x4000, .size = 5000, .weight_bytes = 5000,
		    .weight_count = 1, .stack_id = 2, .t_ns = now - 1 * SEC });
	for (int i = 0; i < 5; i++)
		store_alloc(s, &(struct live){ .addr = 0x5000 + (taddr_t)i * 0x100, .size = 100,
			    .weight_bytes = 100, .weight_count = 1, .stack_id = 3,
			    .t_ns = now - 50 * SEC });
	store_alloc(s, &(struct live){ .addr = 0x6000, .size = 3000, .weight_bytes = 3000,
		    .weight_count = 1, .stack_id = 4, .t_ns = now - 40 * SEC });
	return s;
}

/* Returns the stack ids of r as a string like "2 1 4 3". */
static const char *order(const struct query_result *r)
{
	static char buf[128];
	size_t k = 0;
	buf[0] = 0;
	for (size_t i = 0; i < r->ngroups && k < sizeof(buf) - 12; i++)
		k += (size_t)snprintf(buf + k, sizeof(buf) - k, "%s%u", i ? " " : "",
				      r->groups[i].stack_id);
	return buf;
}

/* query_by_stack: sort orders, ties, top, totals and each filter. */
static void test_query(void)
{
	struct store *s = fixture();
	uint64_t now = 100 * SEC;
	struct query_result r;
	struct query q = { .sort = SORT_BYTES };

	int rc = query_by_stack(s, &q, now, &r);
	CHECK(rc == 0 && !strcmp(order(&r), "2 1 4 3"),
	      "by bytes, descending, tie (1 and 4 at 3000 B) by stack id: %s", order(&r));
	CHECK(r.ngroups == 4 && r.ngroups_total == 4 && r.total_bytes == 11500 &&
	      r.total_count == 10 && r.total_samples == 10,
	      "totals over everything: %.0f B, %.0f allocations", r.total_bytes, r.total_count);
	CHECK(r.groups[1].samples == 3 && r.groups[1].count == 3 &&
	      r.groups[1].oldest_ns == 30 * SEC, "group: samples, count and oldest age");
	query_result_free(&r);

	q.sort = SORT_COUNT;
	query_by_stack(s, &q, now, &r);
	CHECK(!strcmp(order(&r), "3 1 2 4"), "by count: %s", order(&r));
	query_result_free(&r);

	q.sort = SORT_AGE;
	query_by_stack(s, &q, now, &r);
	CHECK(!strcmp(order(&r), "3 4 1 2"), "by age, oldest first: %s", order(&r));
	query_result_free(&r);

	q = (struct query){ .sort = SORT_BYTES, .top = 2 };
	query_by_stack(s, &q, now, &r);
	CHECK(!strcmp(order(&r), "2 1") && r.ngroups == 2 && r.ngroups_total == 4 &&
	      r.total_bytes == 11500, "top 2 keeps 2 groups, totals still over all 4");
	query_result_free(&r);

	q = (struct query){ .min_age_ns = 15 * SEC };
	query_by_stack(s, &q, now, &r);
	CHECK(!strcmp(order(&r), "4 1 3") && r.total_bytes == 5500 && r.total_samples == 8 &&
	      r.groups[1].samples == 2, "min_age 15 s drops the young ones: %s, %.0f B",
	      order(&r), r.total_bytes);
	query_result_free(&r);

	q = (struct query){ .max_age_ns = 20 * SEC };
	query_by_stack(s, &q, now, &r);
	CHECK(!strcmp(order(&r), "2 1") && r.total_bytes == 7000 &&
	      r.groups[1].oldest_ns == 20 * SEC, "max_age 20 s keeps the young ones: %s",
	      order(&r));
	query_result_free(&r);

	q = (struct query){ .min_age_ns = 20 * SEC, .max_age_ns = 20 * SEC };
	query_by_stack(s, &q, now, &r);
	CHECK(!strcmp(order(&r), "1") && r.total_bytes == 1000,
	      "age bounds are inclusive");
	query_result_free(&r);

	q = (struct query){ .min_size = 1000 };
	query_by_stack(s, &q, now, &r);
	CHECK(!strcmp(order(&r), "2 1 4") && r.total_count == 5,
	      "min_size 1000 drops the 100 B ones: %s", order(&r));
	query_result_free(&r);

	q = (struct query){ .min_size = 1 << 20 };
	rc = query_by_stack(s, &q, now, &r);
	CHECK(rc == 0 && r.ngroups == 0 && r.ngroups_total == 0 && r.total_bytes == 0,
	      "nothing passes: empty result");
	query_result_free(&r);

	rc = query_by_stack(s, NULL, 5 * SEC, &r);
	CHECK(rc == 0 && r.ngroups == 4 && r.groups[0].oldest_ns == 0,
	      "no query means everything; allocations stamped after now have age 0");
	query_result_free(&r);
	store_free(s);

	/* estimates add up as weights, not as samples */
	s = store_new();
	for (int i = 0; i < 100; i++)
		store_alloc(s, &(struct live){ .addr = 0x10000 + (taddr_t)i * 16, .size = 10,
			    .weight_bytes = 5120.5, .weight_count = 512.05, .stack_id = 1 });
	query_by_stack(s, NULL, 0, &r);
	CHECK(r.ngroups == 1 && fabs(r.groups[0].bytes - 512050) < 1e-6 &&
	      fabs(r.total_count - 51205) < 1e-6 && r.groups[0].samples == 100,
	      "bytes and counts are sums of weights");
	query_result_free(&r);
	store_free(s);
}

/* ---- reports ---- */

/* Returns the contents of a file (malloc'd, NUL-terminated). */
static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return strdup("");
	static char buf[1 << 20];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	return strdup(buf);
}

static const struct hook_info hooks[] = {
	{ "malloc", 0x7f0000001000, "jmp", NULL },
	{ "free", 0x7f0000002000, "breakpoint", "a branch into the \"window\"\n\tfrom 0x12" },
};

/* Fills a report_meta for the fixture. */
static struct report_meta meta(const struct query *q, uint64_t interval)
{
	return (struct report_meta){
		.pid = 1234, .comm = "demo\xff\x01leak\xc3\xa9", .engine = "trap",
		.sample_interval = interval, .duration_s = 10.0, .samples = 42,
		.frees_seen = 7, .dropped = 0, .allocator = "/lib/x86_64-linux-gnu/libc.so.6",
		.hooks = hooks, .nhooks = 2, .target_end = NULL, .query = q,
	};
}

static const char *py_check =
	"import json,sys\n"
	"d=json.load(open(sys.argv[1],encoding='utf-8'))\n"
	"assert d['version']==1 and d['pid']==1234 and d['engine']=='trap', 'head'\n"
	"assert d['comm']=='demo\\xff\\x01leak\\xe9', repr(d['comm'])\n"
	"assert d['estimated'] is True and d['sample_interval']==524288, 'sampling'\n"
	"assert d['target_end']=='exited with status 3', 'end'\n"
	"assert d['hooks'][1]['why']=='a branch into the \"window\"\\n\\tfrom 0x12', 'why'\n"
	"assert d['hooks'][0]['why'] is None and d['hooks'][0]['addr']=='0x7f0000001000'\n"
	"q=d['query']\n"
	"assert q=={'min_age_s':0.0,'max_age_s':None,'min_size':0,'top':3,'sort':'bytes'}, q\n"
	"t=d['totals']\n"
	"assert t=={'bytes':11500.0,'count':10.0,'samples':10,'frees_seen':7,'dropped':5,'frees_lost':3,'groups':4}, t\n"
	"g=d['groups']\n"
	"assert [x['stack_id'] for x in g]==[2,1,4], g\n"
	"assert g[1]['samples']==3 and g[1]['oldest_age_s']==30.0 and type(g[1]['count']) is float\n"
	"f=g[1]['frames']\n"
	"assert [x['addr'] for x in f]==['0x401010','0x401500'], f\n"
	"assert f[0]=={'addr':'0x401010','func':None,'offset':None,'module':None,"
	"'module_offset':None,'file':None,'line':None,'inlined':False}, f[0]\n";

/* report_json: parsed back by python3 and checked field by field. */
static void test_json(void)
{
	struct store *s = fixture();
	struct query q = { .top = 3, .sort = SORT_BYTES };
	struct query_result r;
	query_by_stack(s, &q, 100 * SEC, &r);
	struct report_meta m = meta(&q, 524288);
	m.target_end = "exited with status 3";
	m.dropped = 5;
	m.frees_lost = 3;

	char path[] = "/tmp/test_store_XXXXXX";
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");
	int rc = report_json(f, &m, &r, s, NULL);
	fclose(f);
	char *txt = slurp(path);
	CHECK(rc == 0 && strstr(txt, "\"version\":1,") && strstr(txt, "\"estimated\":true") &&
	      strstr(txt, "\"bytes\":11500.0") && strstr(txt, "\"comm\":\"demo\\u00ff\\u0001leak\xc3\xa9\""),
	      "report_json: fields by string search, non-UTF-8 as \\u00XX, UTF-8 kept");

	char cmd[4096];
	snprintf(cmd, sizeof(cmd), "python3 -c '%s' %s", "import json,sys; json.load(open(sys.argv[1]))",
		 path);
	int st = system(cmd);
	if (st != -1 && WEXITSTATUS(st) == 127) {
		printf("ok %d - # SKIP python3 not found\n", ++checks);
		printf("ok %d - # SKIP python3 not found\n", ++checks);
	} else {
		CHECK(st == 0, "python3 json.load reads the report");
		char script[] = "/tmp/test_store_py_XXXXXX";
		int pfd = mkstemp(script);
		ssize_t w = write(pfd, py_check, strlen(py_check));
		close(pfd);
		snprintf(cmd, sizeof(cmd), "python3 %s %s", script, path);
		st = system(cmd);
		CHECK(w > 0 && st == 0, "python3: every field has the documented value and type");
		unlink(script);
	}
	free(txt);

	/* every allocation recorded: not estimated */
	f = fopen(path, "w");
	m = meta(&q, 0);
	rc = report_json(f, &m, &r, s, NULL);
	fclose(f);
	txt = slurp(path);
	CHECK(rc == 0 && strstr(txt, "\"estimated\":false") && strstr(txt, "\"sample_interval\":0,") &&
	      strstr(txt, "\"target_end\":null"), "report_json with interval 0: estimated false");
	free(txt);

	/* an empty result is still a complete document */
	struct query_result empty = { 0 };
	f = fopen(path, "w");
	rc = report_json(f, &m, &empty, s, NULL);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); "
		 "assert d[\"groups\"]==[] and d[\"totals\"][\"groups\"]==0' %s 2>/dev/null", path);
	st = system(cmd);
	CHECK(rc == 0 && (st == 0 || WEXITSTATUS(st) == 127), "report_json of an empty result parses");

	unlink(path);
	query_result_free(&r);
	store_free(s);
}

/* Runs report_text into a string (malloc'd); *rc gets its return value. */
static char *text_of(const struct report_meta *m, const struct query_result *r,
		     const struct store *s, struct symbolizer *sym, int *rc)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	*rc = report_text(f, m, r, s, sym);
	fclose(f);
	return buf;
}

/* report_text: sampled and exact wording, header lines, filters, write errors. */
static void test_text(void)
{
	struct store *s = fixture();
	struct query q = { .top = 3, .sort = SORT_BYTES };
	struct query_result r;
	query_by_stack(s, &q, 100 * SEC, &r);
	int rc;

	struct report_meta m = meta(&q, 524288);
	char *t = text_of(&m, &r, s, NULL, &rc);
	CHECK(rc == 0 && strstr(t, "sampling every 512 KiB on average") &&
	      strstr(t, "total: ~11.2 KiB in ~10 allocations (est.), 4 stacks; showing top 3") &&
	      strstr(t, "#1 stack 2: ~4.9 KiB in ~1 allocation (est.), 1 sample, oldest 1.0 s") &&
	      strstr(t, "#2 stack 1: ~2.9 KiB in ~3 allocations (est.), 3 samples, oldest 30.0 s") &&
	      strstr(t, "    #0 0x401010\n    #1 0x401500\n") && !strstr(t, "exact") &&
	      !strstr(t, "target") && !strstr(t, "warning") &&
	      strstr(t, "leaktrap: live sampled allocations in 1234 (demo\xff\\x01leak") == t,
	      "text, sampled: estimates marked with ~, raw frames without a symbolizer");
	CHECK(!strchr(t, '\x01') && !strchr(t, '\t') &&
	      strstr(t, "(a branch into the \"window\"\\x0a\\x09from 0x12)"),
	      "text: control characters in target-chosen strings are shown as \\xNN");
	if (failures)
		fputs(t, stdout);
	free(t);

	m = meta(&q, 0);
	m.target_end = "exited with status 3";
	m.dropped = 2;
	m.frees_lost = 1;
	t = text_of(&m, &r, s, NULL, &rc);
	CHECK(rc == 0 && !strchr(t, '~') && strstr(t, "every allocation recorded: figures are exact") &&
	      strstr(t, "total: 11.2 KiB in 10 allocations, 4 stacks") &&
	      strstr(t, "#3 stack 4: 2.9 KiB in 1 allocation, oldest 40.0 s") &&
	      strstr(t, "target exited with status 3 during the session") &&
	      strstr(t, "warning: 2 sampled allocations were lost (") &&
	      strstr(t, "warning: 1 free of sampled blocks was lost (the free log was full): "
		     "those blocks still count as live, figures may be high") &&
	      strstr(t, "hooks: malloc jmp, free breakpoint (a branch"),
	      "text, every allocation: exact figures, target end, dropped, frees lost, hooks");
	free(t);

	struct query qf = { .min_age_ns = 90 * SEC, .max_age_ns = 2 * 3600 * SEC,
			    .min_size = 2048, .sort = SORT_AGE };
	struct query_result rf;
	query_by_stack(s, &qf, 100 * SEC, &rf);
	m = meta(&qf, 524288);
	m.duration_s = 0.25;
	t = text_of(&m, &rf, s, NULL, &rc);
	CHECK(rc == 0 && strstr(t, "filters: older than 1.5 m, younger than 2.0 h, at least 2 KiB") &&
	      strstr(t, "no live allocations passed the filters") && strstr(t, ", 250 ms attached,"),
	      "text: filters, empty result, ages in ms/m/h");
	free(t);
	query_result_free(&rf);

	/* write errors come back as -errno */
	FILE *full = fopen("/dev/full", "w");
	if (full) {
		m = meta(&q, 524288);
		int rt = report_text(full, &m, &r, s, NULL);
		clearerr(full);
		int rj = report_json(full, &m, &r, s, NULL);
		fclose(full);
		CHECK(rt == -ENOSPC && rj == -ENOSPC, "writing to /dev/full: -ENOSPC (%d, %d)", rt, rj);
	} else {
		printf("ok %d - # SKIP no /dev/full\n", ++checks);
	}
	query_result_free(&r);
	store_free(s);
}

/* A frame that the real symbolizer must name: the return address into
 * leaktrap_named_caller from its call to return_here. */
__attribute__((noinline)) static taddr_t return_here(void)
{
	taddr_t a = (taddr_t)(uintptr_t)__builtin_return_address(0);
	__asm__ volatile("" ::: "memory");
	return a;
}

/* Returns a return address inside itself; extern, so the compiler keeps its
 * plain name (no .isra or .constprop clone) for the symbolizer to find. */
__attribute__((noinline)) taddr_t leaktrap_named_caller(void)
{
	taddr_t a = return_here();
	__asm__ volatile("" ::: "memory");
	return a;
}

/* Both reports name a frame of this very process through the real symbolizer. */
static void test_symbolized(void)
{
	struct symbolizer *sym = sym_new(getpid());
	if (!sym) {
		printf("ok %d - # SKIP no symbolizer\n", ++checks);
		return;
	}
	struct store *s = store_new();
	taddr_t fr[1] = { leaktrap_named_caller() };
	store_alloc(s, &(struct live){ .addr = 0x1000, .size = 8, .weight_bytes = 8,
		    .weight_count = 1, .stack_id = store_intern_stack(s, fr, 1) });
	struct query_result r;
	query_by_stack(s, NULL, 0, &r);
	struct report_meta m = meta(NULL, 0);
	int rc, rj;
	char *t = text_of(&m, &r, s, sym, &rc);
	char *j = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&j, &len);
	rj = report_json(f, &m, &r, s, sym);
	fclose(f);
	CHECK(rc == 0 && rj == 0 && strstr(t, "leaktrap_named_caller+0x") &&
	      strstr(j, "\"func\":\"leaktrap_named_caller\""),
	      "with the real symbolizer, frames are named in text and JSON");
	free(t);
	free(j);
	query_result_free(&r);
	store_free(s);
	sym_free(sym);
}

/* Runs every test; "--no-bench" skips the timing run. Exits 0 iff all passed. */
int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	test_stacks();
	test_live_basic();
	test_live_reference();
	test_live_million();
	test_live_churn();
	if (argc < 2 || strcmp(argv[1], "--no-bench") != 0)
		bench_pairs();
	test_query();
	test_json();
	test_text();
	test_symbolized();
	printf("%d of %d checks passed\n", checks - failures, checks);
	return failures ? 1 : 0;
}
