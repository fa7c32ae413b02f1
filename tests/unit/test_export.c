/* test_export: the folded and pprof writers on a store built in-process
 * from return addresses inside this very program (a plain call chain, an
 * inlined call, an unmapped address, a file mapping whose name holds a ';',
 * an empty stack), symbolized by the real symbolizer. Folded lines are
 * checked exactly; the pprof profile is gunzipped with zlib and decoded by
 * the small protobuf reader below, and its sample types, values, labels,
 * locations, functions, mappings and string table are checked. Then 2000
 * stacks through libc grow every table, and /dev/full gives -ENOSPC.
 * Usage: test_export [DIR]   (with DIR, also writes DIR/export.folded and
 * DIR/export.pb.gz, for a look with flamegraph.pl or go tool pprof.)
 * Prints "ok N - ..." / "not ok N - ..."; exits 0 iff every check passed. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "export.h"
#include "query.h"
#include "store.h"

static int failures, checks;
#define CHECK(cond, ...) do { checks++; if (cond) printf("ok %d - ", checks); \
	else { failures++; printf("not ok %d - ", checks); } printf(__VA_ARGS__); printf("\n"); } while (0)

#define SEC 1000000000ull

/* ---- code whose return addresses make the stacks ---- */

static volatile taddr_t leaf_ra, mid_leaf_ra, mid_ra, outer_ra;
static volatile int sink;

/* Records its return address: a point inside whoever called it. */
__attribute__((noinline, noclone)) void exp_leaf(void)
{
	leaf_ra = (taddr_t)(uintptr_t)__builtin_return_address(0);
	__asm__ volatile("" ::: "memory");
}

/* Calls exp_leaf and keeps its return address (a point in exp_mid), and
 * records where it returns to in exp_root; the work after the call keeps it
 * from being a tail call. */
__attribute__((noinline, noclone)) int exp_mid(int x)
{
	mid_ra = (taddr_t)(uintptr_t)__builtin_return_address(0);
	exp_leaf();
	mid_leaf_ra = leaf_ra;
	return x + sink;
}

/* Inlined into exp_outer: exp_leaf's return address lies in its code. */
static inline __attribute__((always_inline)) int exp_inl(int x)
{
	exp_leaf();
	return x * 3 + sink;
}

/* The physical function around the inlined exp_inl. */
__attribute__((noinline, noclone)) int exp_outer(int x)
{
	outer_ra = (taddr_t)(uintptr_t)__builtin_return_address(0);
	int r = exp_inl(x);
	return r + sink;
}

/* The root of both call chains. */
__attribute__((noinline, noclone)) int exp_root(int x)
{
	int a = exp_mid(x);
	int b = exp_outer(x);
	return a + b + sink;
}

/* ---- helpers ---- */

/* Returns the last path component of p. */
static const char *base(const char *p)
{
	const char *s = p ? strrchr(p, '/') : NULL;
	return s ? s + 1 : p ? p : "";
}

/* Returns a clock in nanoseconds. */
static uint64_t clock_ns(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * SEC + (uint64_t)ts.tv_nsec;
}

/* Runs an export into memory; returns the bytes (free them), *len and *rc. */
static char *export_to_mem(int (*fn)(FILE *, const struct report_meta *, const struct query_result *,
				     const struct store *, struct symbolizer *),
			   const struct report_meta *m, const struct query_result *r,
			   const struct store *s, struct symbolizer *sym, size_t *len, int *rc)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);
	*rc = fn(f, m, r, s, sym);
	fclose(f);
	return buf;
}

/* Returns the gunzipped bytes of p[0..n) (free them) and their length in
 * *out_len, or NULL when p is not one whole gzip stream. */
static uint8_t *gunzip(const void *p, size_t n, size_t *out_len)
{
	z_stream z = { .next_in = (Bytef *)p, .avail_in = (uInt)n };
	if (inflateInit2(&z, 15 + 16) != Z_OK)
		return NULL;
	size_t cap = 1 << 16, len = 0;
	uint8_t *out = malloc(cap);
	int rc = Z_OK;
	while (out && rc == Z_OK) {
		if (len == cap)
			out = realloc(out, cap *= 2);
		if (!out)
			break;
		z.next_out = out + len;
		z.avail_out = (uInt)(cap - len);
		rc = inflate(&z, Z_NO_FLUSH);
		len = cap - z.avail_out;
	}
	inflateEnd(&z);
	if (rc != Z_STREAM_END || z.avail_in != 0) {
		free(out);
		return NULL;
	}
	*out_len = len;
	return out;
}

/* ---- a small profile.proto reader ---- */

/* A slice of protobuf bytes being read; bad sticks on malformed input. */
struct rd {
	const uint8_t *p, *end;
	bool bad;
};

/* Reads a varint. */
static uint64_t rd_varint(struct rd *d)
{
	uint64_t v = 0;
	for (int shift = 0; shift < 64; shift += 7) {
		if (d->p >= d->end)
			break;
		uint8_t c = *d->p++;
		v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return v;
	}
	d->bad = true;
	return 0;
}

/* Reads the next field: its number, and either its varint (*v) or its
 * length-delimited body (*sub). Returns false at the end or on bad input
 * (the profile has only wire types 0 and 2). */
static bool rd_field(struct rd *d, unsigned *field, uint64_t *v, struct rd *sub)
{
	if (d->bad || d->p >= d->end)
		return false;
	uint64_t tag = rd_varint(d);
	*field = (unsigned)(tag >> 3);
	*v = 0;
	*sub = (struct rd){ 0 };
	if ((tag & 7) == 0) {
		*v = rd_varint(d);
	} else if ((tag & 7) == 2) {
		uint64_t n = rd_varint(d);
		if (n > (uint64_t)(d->end - d->p))
			d->bad = true;
		else
			*sub = (struct rd){ d->p, d->p + n, false }, d->p += n;
	} else {
		d->bad = true;
	}
	return !d->bad;
}

/* Reads a repeated integer field that may be packed (sub) or not (v) into
 * a[*n], up to max. */
static void rd_repeated(const struct rd *sub, uint64_t v, uint64_t *a, int *n, int max)
{
	if (!sub->p) {
		if (*n < max)
			a[(*n)++] = v;
		return;
	}
	struct rd s = *sub;
	while (s.p < s.end && !s.bad && *n < max)
		a[(*n)++] = rd_varint(&s);
}

#define MAXN 64      /* locations per sample */
#define MAXP 4096    /* samples, locations, functions, mappings, strings */

struct p_label { int64_t key, str, num, num_unit; };
struct p_sample { uint64_t loc[MAXN]; int nloc; uint64_t val[4]; int nval;
		  struct p_label lab[4]; int nlab; };
struct p_line { uint64_t func; int64_t line; };
struct p_loc { uint64_t id, mapping, addr; struct p_line line[8]; int nline; };
struct p_func { uint64_t id; int64_t name, system_name, filename; };
struct p_map { uint64_t id, start, limit, offset; int64_t filename; bool has_functions; };

/* What the checks look at in a decoded profile. */
struct prof {
	uint64_t st_type[4], st_unit[4]; int nst;
	struct p_sample sample[MAXP]; int nsample;
	struct p_loc loc[MAXP]; int nloc;
	struct p_func func[MAXP]; int nfunc;
	struct p_map map[MAXP]; int nmap;
	char *str[MAXP]; int nstr;
	uint64_t comment[8]; int ncomment;
	int64_t time_nanos, duration_nanos, period, default_sample_type;
	uint64_t pt_type, pt_unit;
	bool bad;
};

/* Decodes a whole Profile message into p (free it with prof_free);
 * p->bad says it was malformed or held more than the test expects. */
static void prof_decode(struct prof *p, const uint8_t *buf, size_t len)
{
	memset(p, 0, sizeof(*p));
	struct rd d = { buf, buf + len, false }, s = { 0 }, s2 = { 0 }, s3 = { 0 };
	unsigned f, f2, f3;
	uint64_t v, v2, v3;
	while (rd_field(&d, &f, &v, &s)) {
		switch (f) {
		case 1:	/* sample_type */
		case 11:	/* period_type */
			{
				uint64_t t = 0, u = 0;
				while (rd_field(&s, &f2, &v2, &s2)) {
					if (f2 == 1) t = v2;
					else if (f2 == 2) u = v2;
				}
				if (f == 11)
					p->pt_type = t, p->pt_unit = u;
				else if (p->nst < 4)
					p->st_type[p->nst] = t, p->st_unit[p->nst++] = u;
			}
			break;
		case 2: {
			if (p->nsample == MAXP) { p->bad = true; break; }
			struct p_sample *sm = &p->sample[p->nsample++];
			while (rd_field(&s, &f2, &v2, &s2)) {
				if (f2 == 1)
					rd_repeated(&s2, v2, sm->loc, &sm->nloc, MAXN);
				else if (f2 == 2)
					rd_repeated(&s2, v2, sm->val, &sm->nval, 4);
				else if (f2 == 3 && sm->nlab < 4) {
					struct p_label *l = &sm->lab[sm->nlab++];
					while (rd_field(&s2, &f3, &v3, &s3)) {
						if (f3 == 1) l->key = (int64_t)v3;
						else if (f3 == 2) l->str = (int64_t)v3;
						else if (f3 == 3) l->num = (int64_t)v3;
						else if (f3 == 4) l->num_unit = (int64_t)v3;
					}
				}
			}
			break;
		}
		case 3: {
			if (p->nmap == MAXP) { p->bad = true; break; }
			struct p_map *m = &p->map[p->nmap++];
			while (rd_field(&s, &f2, &v2, &s2)) {
				if (f2 == 1) m->id = v2;
				else if (f2 == 2) m->start = v2;
				else if (f2 == 3) m->limit = v2;
				else if (f2 == 4) m->offset = v2;
				else if (f2 == 5) m->filename = (int64_t)v2;
				else if (f2 == 7) m->has_functions = v2;
			}
			break;
		}
		case 4: {
			if (p->nloc == MAXP) { p->bad = true; break; }
			struct p_loc *l = &p->loc[p->nloc++];
			while (rd_field(&s, &f2, &v2, &s2)) {
				if (f2 == 1) l->id = v2;
				else if (f2 == 2) l->mapping = v2;
				else if (f2 == 3) l->addr = v2;
				else if (f2 == 4 && l->nline < 8) {
					struct p_line *ln = &l->line[l->nline++];
					while (rd_field(&s2, &f3, &v3, &s3)) {
						if (f3 == 1) ln->func = v3;
						else if (f3 == 2) ln->line = (int64_t)v3;
					}
				}
			}
			break;
		}
		case 5: {
			if (p->nfunc == MAXP) { p->bad = true; break; }
			struct p_func *fn = &p->func[p->nfunc++];
			while (rd_field(&s, &f2, &v2, &s2)) {
				if (f2 == 1) fn->id = v2;
				else if (f2 == 2) fn->name = (int64_t)v2;
				else if (f2 == 3) fn->system_name = (int64_t)v2;
				else if (f2 == 4) fn->filename = (int64_t)v2;
			}
			break;
		}
		case 6:
			if (p->nstr == MAXP) { p->bad = true; break; }
			p->str[p->nstr++] = s.p ? strndup((const char *)s.p, (size_t)(s.end - s.p)) : strdup("");
			break;
		case 9: p->time_nanos = (int64_t)v; break;
		case 10: p->duration_nanos = (int64_t)v; break;
		case 12: p->period = (int64_t)v; break;
		case 13: rd_repeated(&s, v, p->comment, &p->ncomment, 8); break;
		case 14: p->default_sample_type = (int64_t)v; break;
		}
		if (s.bad || s2.bad || s3.bad)
			p->bad = true;
	}
	if (d.bad)
		p->bad = true;
}

/* Frees the strings of a decoded profile. */
static void prof_free(struct prof *p)
{
	for (int i = 0; i < p->nstr; i++)
		free(p->str[i]);
}

/* Returns string i of the table, or "<bad index>". */
static const char *pstr(const struct prof *p, int64_t i)
{
	return i >= 0 && i < p->nstr ? p->str[i] : "<bad index>";
}

/* Returns the location with this id, or NULL. Ids are checked to be
 * 1, 2, 3 ... in order, so the index is tried first. */
static const struct p_loc *ploc(const struct prof *p, uint64_t id)
{
	if (id >= 1 && id <= (uint64_t)p->nloc && p->loc[id - 1].id == id)
		return &p->loc[id - 1];
	for (int i = 0; i < p->nloc; i++)
		if (p->loc[i].id == id)
			return &p->loc[i];
	return NULL;
}

/* Returns the name of the function with this id, or "<none>". */
static const char *pfunc(const struct prof *p, uint64_t id)
{
	if (id >= 1 && id <= (uint64_t)p->nfunc && p->func[id - 1].id == id)
		return pstr(p, p->func[id - 1].name);
	for (int i = 0; i < p->nfunc; i++)
		if (p->func[i].id == id)
			return pstr(p, p->func[i].name);
	return "<none>";
}

/* Returns the mapping with this id, or NULL. */
static const struct p_map *pmap(const struct prof *p, uint64_t id)
{
	for (int i = 0; i < p->nmap; i++)
		if (p->map[i].id == id)
			return &p->map[i];
	return NULL;
}

/* Writes the function names of a location's lines, innermost first and
 * ','-separated, into buf (empty when it has none); returns buf. */
static const char *loc_names(const struct prof *p, const struct p_loc *l, char *buf, size_t len)
{
	buf[0] = 0;
	for (int i = 0; l && i < l->nline; i++)
		snprintf(buf + strlen(buf), len - strlen(buf), "%s%s", i ? "," : "",
			 pfunc(p, l->line[i].func));
	return buf;
}

/* Returns the numeric label with this key of a sample (*unit gets its
 * unit), or -1. */
static int64_t plabel(const struct prof *p, const struct p_sample *sm, const char *key,
		      const char **unit)
{
	for (int i = 0; i < sm->nlab; i++)
		if (!strcmp(pstr(p, sm->lab[i].key), key)) {
			*unit = pstr(p, sm->lab[i].num_unit);
			return sm->lab[i].num;
		}
	return -1;
}

/* ---- the tests ---- */

/* The fixture: a store whose stacks run through the exp_* functions. */
struct fixture {
	struct store *s;
	struct symbolizer *sym;
	struct query_result r;
	taddr_t inl_ra, modaddr, modbase;
	char dir[64], modpath[96];
	void *map;
};

/* Builds the store (four stacks, in this order of bytes: exp_root→exp_mid
 * 6000.4, exp_root→exp_outer/exp_inl 4500.5, exp_root→0x10→the ';' file 100,
 * empty 50), maps the file, makes the symbolizer and queries by stack. */
static bool fixture_init(struct fixture *fx, uint64_t now)
{
	memset(fx, 0, sizeof(*fx));
	exp_root(1);	/* exp_mid, then exp_outer: leaf_ra is the inlined call */
	taddr_t in_mid = mid_leaf_ra, in_root = mid_ra, in_root2 = outer_ra;
	fx->inl_ra = leaf_ra;

	/* a non-ELF file mapped executable: the symbolizer can only name it
	 * module+offset, and its name holds a ';' for the folded writer */
	strcpy(fx->dir, "/tmp/test_export.XXXXXX");
	if (!mkdtemp(fx->dir))
		return false;
	snprintf(fx->modpath, sizeof(fx->modpath), "%s/lt;mod.bin", fx->dir);
	int fd = open(fx->modpath, O_RDWR | O_CREAT | O_TRUNC, 0700);
	static char page[4096];
	memset(page, 0xcc, sizeof(page));
	if (fd < 0 || write(fd, page, sizeof(page)) != (ssize_t)sizeof(page))
		return false;
	fx->map = mmap(NULL, sizeof(page), PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
	close(fd);
	if (fx->map == MAP_FAILED)
		return false;
	fx->modbase = (taddr_t)(uintptr_t)fx->map;
	fx->modaddr = fx->modbase + 0x101;

	fx->s = store_new();
	taddr_t a[2] = { in_mid, in_root };
	taddr_t b[2] = { fx->inl_ra, in_root2 };
	taddr_t c[3] = { fx->modaddr, 0x10, in_root };
	uint32_t ia = store_intern_stack(fx->s, a, 2), ib = store_intern_stack(fx->s, b, 2);
	uint32_t ic = store_intern_stack(fx->s, c, 3), id = store_intern_stack(fx->s, NULL, 0);
	const struct live l[] = {
		{ .addr = 0x1000, .size = 1000, .weight_bytes = 1000, .weight_count = 1, .stack_id = ia, .t_ns = now - 5 * SEC },
		{ .addr = 0x2000, .size = 2000, .weight_bytes = 2000, .weight_count = 1, .stack_id = ia, .t_ns = now - 3 * SEC },
		{ .addr = 0x3000, .size = 3000, .weight_bytes = 3000.4, .weight_count = 1, .stack_id = ia, .t_ns = now - 1 * SEC },
		{ .addr = 0x4000, .size = 4096, .weight_bytes = 4500.5, .weight_count = 1.7, .stack_id = ib, .t_ns = now - 2 * SEC },
		{ .addr = 0x5000, .size = 100, .weight_bytes = 100, .weight_count = 1, .stack_id = ic, .t_ns = now - 7 * SEC },
		{ .addr = 0x6000, .size = 50, .weight_bytes = 50, .weight_count = 1, .stack_id = id, .t_ns = now },
	};
	for (size_t i = 0; i < sizeof(l) / sizeof(l[0]); i++)
		store_alloc(fx->s, &l[i]);
	fx->sym = sym_new(getpid());
	struct query q = { .sort = SORT_BYTES };
	return fx->sym && query_by_stack(fx->s, &q, now, &fx->r) == 0 && fx->r.ngroups == 4;
}

/* Undoes fixture_init. */
static void fixture_free(struct fixture *fx)
{
	query_result_free(&fx->r);
	store_free(fx->s);
	sym_free(fx->sym);
	if (fx->map && fx->map != MAP_FAILED)
		munmap(fx->map, 4096);
	unlink(fx->modpath);
	rmdir(fx->dir);
}

/* Returns report metadata for the tests, with this sampling interval. */
static struct report_meta meta(uint64_t interval)
{
	return (struct report_meta){ .pid = getpid(), .comm = "test_export", .engine = "trap",
				     .sample_interval = interval, .duration_s = 2.5 };
}

/* Folded: exact lines, root first, inlined after its physical frame. */
static void test_folded(struct fixture *fx, const char *keep)
{
	struct report_meta m = meta(524288);
	size_t len;
	int rc;
	char *t = export_to_mem(export_folded, &m, &fx->r, fx->s, fx->sym, &len, &rc);
	char want[512];
	snprintf(want, sizeof(want),
		 "exp_root;exp_mid 6000\n"
		 "exp_root;exp_outer;exp_inl 4501\n"
		 "exp_root;0x10;lt_mod.bin+0x101 100\n"
		 "[unknown] 50\n");
	CHECK(rc == 0 && t && !strcmp(t, want), "folded: four exact lines, root first, inlined "
	      "frames after their physical one, ';' in a name replaced");
	if (!t || strcmp(t, want))
		printf("# got:\n%s# want:\n%s", t ? t : "(null)", want);
	if (keep) {
		char path[512];
		snprintf(path, sizeof(path), "%s/export.folded", keep);
		FILE *f = fopen(path, "w");
		if (f) {
			fputs(t, f);
			fclose(f);
		}
	}
	free(t);

	/* without a symbolizer every frame is its address */
	t = export_to_mem(export_folded, &m, &fx->r, fx->s, NULL, &len, &rc);
	const struct stack *st = store_stack(fx->s, fx->r.groups[0].stack_id);
	snprintf(want, sizeof(want), "0x%llx;0x%llx 6000\n", (unsigned long long)st->frames[1],
		 (unsigned long long)st->frames[0]);
	CHECK(rc == 0 && t && !strncmp(t, want, strlen(want)), "folded without a symbolizer: addresses");
	free(t);

	/* an empty result is an empty file */
	struct query_result none = { 0 };
	t = export_to_mem(export_folded, &m, &none, fx->s, fx->sym, &len, &rc);
	CHECK(rc == 0 && len == 0, "folded: no groups, no lines");
	free(t);
}

/* pprof: decode and check everything the brief and pprof rely on. */
static void test_pprof(struct fixture *fx, const char *keep)
{
	struct report_meta m = meta(524288);
	size_t len, plen = 0;
	int rc;
	uint64_t t0 = clock_ns(CLOCK_REALTIME);
	char *gz = export_to_mem(export_pprof, &m, &fx->r, fx->s, fx->sym, &len, &rc);
	uint64_t t1 = clock_ns(CLOCK_REALTIME);
	CHECK(rc == 0 && len > 18 && (uint8_t)gz[0] == 0x1f && (uint8_t)gz[1] == 0x8b,
	      "pprof: written, gzip magic (rc %d, %zu bytes)", rc, len);
	if (keep) {
		char path[512];
		snprintf(path, sizeof(path), "%s/export.pb.gz", keep);
		FILE *f = fopen(path, "w");
		if (f) {
			fwrite(gz, 1, len, f);
			fclose(f);
		}
	}
	uint8_t *pb = gunzip(gz, len, &plen);
	free(gz);
	CHECK(pb != NULL, "pprof: gunzips (%zu bytes of protobuf)", plen);
	if (!pb)
		return;
	static struct prof p;
	prof_decode(&p, pb, plen);
	free(pb);
	CHECK(!p.bad, "pprof: decodes as protobuf");
	CHECK(p.nstr > 0 && !strcmp(p.str[0], ""), "pprof: string table starts with \"\"");

	CHECK(p.nst == 2 && !strcmp(pstr(&p, p.st_type[0]), "inuse_objects") &&
	      !strcmp(pstr(&p, p.st_unit[0]), "count") &&
	      !strcmp(pstr(&p, p.st_type[1]), "inuse_space") && !strcmp(pstr(&p, p.st_unit[1]), "bytes"),
	      "pprof: sample types inuse_objects/count, inuse_space/bytes");
	CHECK(!strcmp(pstr(&p, p.pt_type), "space") && !strcmp(pstr(&p, p.pt_unit), "bytes") &&
	      p.period == 524288 && !strcmp(pstr(&p, p.default_sample_type), "inuse_space"),
	      "pprof: period type space/bytes, period 524288, default sample type inuse_space");
	CHECK(p.duration_nanos == 2500000000 && p.time_nanos >= (int64_t)t0 && p.time_nanos <= (int64_t)t1,
	      "pprof: duration 2.5 s, time_nanos is now");
	bool estimates = false;
	for (int i = 0; i < p.ncomment; i++)
		estimates |= strstr(pstr(&p, (int64_t)p.comment[i]), "estimates") != NULL;
	CHECK(estimates, "pprof: a comment says the values are estimates");

	CHECK(p.nsample == 4, "pprof: one sample per group (%d)", p.nsample);
	bool vals = p.nsample == 4;
	static const uint64_t want[4][2] = { { 3, 6000 }, { 2, 4501 }, { 1, 100 }, { 1, 50 } };
	for (int i = 0; vals && i < 4; i++)
		vals = p.sample[i].nval == 2 && p.sample[i].val[0] == want[i][0] &&
		       p.sample[i].val[1] == want[i][1];
	CHECK(vals, "pprof: values [round(count), round(bytes)] per group");
	if (p.nsample != 4)
		goto out;

	const char *unit = NULL;
	int64_t age = plabel(&p, &p.sample[0], "age", &unit);
	const char *sunit = NULL;
	int64_t ns = plabel(&p, &p.sample[0], "samples", &sunit);
	CHECK(age == 5 * (int64_t)SEC && !strcmp(unit, "nanoseconds") && ns == 3,
	      "pprof: labels age %lld %s, samples %lld", (long long)age, unit, (long long)ns);

	char n0[128], n1[128];
	const struct p_sample *a = &p.sample[0], *b = &p.sample[1], *c = &p.sample[2];
	const struct stack *sa = store_stack(fx->s, fx->r.groups[0].stack_id);
	const struct p_loc *a0 = a->nloc == 2 ? ploc(&p, a->loc[0]) : NULL;
	const struct p_loc *a1 = a->nloc == 2 ? ploc(&p, a->loc[1]) : NULL;
	CHECK(a0 && a1 && a0->addr == sa->frames[0] && a1->addr == sa->frames[1] &&
	      !strcmp(loc_names(&p, a0, n0, sizeof(n0)), "exp_mid") &&
	      !strcmp(loc_names(&p, a1, n1, sizeof(n1)), "exp_root"),
	      "pprof: locations leaf first, raw addresses, functions %s <- %s", n0, n1);
	const struct p_loc *b0 = b->nloc == 2 ? ploc(&p, b->loc[0]) : NULL;
	CHECK(b0 && b0->addr == fx->inl_ra && !strcmp(loc_names(&p, b0, n0, sizeof(n0)), "exp_inl,exp_outer"),
	      "pprof: an inlined location has lines innermost first (%s)", n0);
	const struct p_map *me = a0 ? pmap(&p, a0->mapping) : NULL;
	CHECK(me && !strcmp(base(pstr(&p, me->filename)), "test_export") && me->has_functions &&
	      me->start <= a0->addr && me->limit > a0->addr && me->limit > a1->addr,
	      "pprof: the program's mapping %s covers its addresses, has_functions",
	      me ? pstr(&p, me->filename) : "(none)");

	const struct p_loc *c0 = c->nloc == 3 ? ploc(&p, c->loc[0]) : NULL;
	const struct p_loc *c1 = c->nloc == 3 ? ploc(&p, c->loc[1]) : NULL;
	const struct p_map *mf = c0 ? pmap(&p, c0->mapping) : NULL;
	CHECK(c0 && c0->nline == 0 && c0->addr == fx->modaddr && mf &&
	      !strcmp(pstr(&p, mf->filename), fx->modpath) && mf->start == fx->modbase,
	      "pprof: a file frame without symbols: no lines, mapping %s starting at its base",
	      mf ? pstr(&p, mf->filename) : "(none)");
	CHECK(c1 && c1->addr == 0x10 && c1->nline == 0 && c1->mapping == 0 && c->loc[2] == a->loc[1],
	      "pprof: an unmapped address has no mapping; a shared address is one location");
	const struct p_loc *d0 = p.sample[3].nloc == 1 ? ploc(&p, p.sample[3].loc[0]) : NULL;
	CHECK(d0 && d0->addr == 0 && d0->mapping == 0 && !strcmp(loc_names(&p, d0, n0, sizeof(n0)), "[unknown]"),
	      "pprof: the empty stack has one location, [unknown] (pprof shows no sample without one)");
	CHECK(p.nloc == 7 && p.nfunc == 5 && p.nmap == 2,
	      "pprof: 6 distinct addresses and [unknown], 5 functions, 2 modules (%d, %d, %d)",
	      p.nloc, p.nfunc, p.nmap);
	bool ids = true;
	for (int i = 0; i < p.nloc; i++)
		ids &= p.loc[i].id == (uint64_t)i + 1 && (!p.loc[i].mapping || pmap(&p, p.loc[i].mapping));
	for (int i = 0; i < p.nfunc; i++)
		ids &= p.func[i].id == (uint64_t)i + 1 && p.func[i].name > 0 &&
		       p.func[i].system_name == p.func[i].name &&
		       (!strcmp(base(pstr(&p, p.func[i].filename)), "test_export.c") ||
			(!strcmp(pstr(&p, p.func[i].name), "[unknown]") && p.func[i].filename == 0));
	CHECK(ids, "pprof: ids 1.., every mapping id resolves, functions named with their file");
out:
	prof_free(&p);

	/* every allocation recorded: no period, no "estimates" comment */
	m = meta(0);
	gz = export_to_mem(export_pprof, &m, &fx->r, fx->s, fx->sym, &len, &rc);
	pb = gz ? gunzip(gz, len, &plen) : NULL;
	free(gz);
	if (pb)
		prof_decode(&p, pb, plen);
	estimates = false;
	for (int i = 0; pb && i < p.ncomment; i++)
		estimates |= strstr(pstr(&p, (int64_t)p.comment[i]), "estimates") != NULL;
	CHECK(rc == 0 && pb && !p.bad && p.period == 0 && !estimates && p.nsample == 4,
	      "pprof, every allocation: period 0, no estimates comment");
	if (pb)
		prof_free(&p);
	free(pb);

	/* no symbolizer, no groups: still a valid profile */
	struct query_result none = { 0 };
	gz = export_to_mem(export_pprof, &m, &none, fx->s, NULL, &len, &rc);
	pb = gz ? gunzip(gz, len, &plen) : NULL;
	free(gz);
	if (pb)
		prof_decode(&p, pb, plen);
	CHECK(rc == 0 && pb && !p.bad && p.nsample == 0 && p.nst == 2 && p.nstr > 0 && !p.str[0][0],
	      "pprof: no groups, a valid empty profile");
	if (pb)
		prof_free(&p);
	free(pb);
}

/* Compares two strings through pointers to them, for qsort. */
static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Many stacks (2000 addresses across libc, hundreds of functions): the
 * tables grow, every location still names the function the symbolizer
 * gives, and no string, location or function is there twice. */
static void test_many(struct symbolizer *sym)
{
	enum { N = 2000 };
	struct store *s = store_new();
	taddr_t mid = (taddr_t)(uintptr_t)dlsym(RTLD_DEFAULT, "malloc");
	for (int i = 0; i < N; i++) {
		taddr_t fr[2] = { mid - N / 2 * 64 + (taddr_t)i * 64, mid };
		store_alloc(s, &(struct live){ .addr = 0x1000 + (taddr_t)i * 16, .size = 16,
			    .weight_bytes = 16 + i, .weight_count = 1,
			    .stack_id = store_intern_stack(s, fr, 2) });
	}
	struct query_result r;
	struct query q = { .sort = SORT_BYTES };
	query_by_stack(s, &q, 0, &r);
	struct report_meta m = meta(0);
	size_t len, plen = 0;
	int rc;
	char *t = export_to_mem(export_folded, &m, &r, s, sym, &len, &rc);
	int lines = 0;
	for (char *c = t; c && *c; c++)
		lines += *c == '\n';
	CHECK(rc == 0 && lines == N, "many: %d folded lines", lines);
	free(t);

	char *gz = export_to_mem(export_pprof, &m, &r, s, sym, &len, &rc);
	uint8_t *pb = gz ? gunzip(gz, len, &plen) : NULL;
	free(gz);
	static struct prof p;
	if (pb)
		prof_decode(&p, pb, plen);
	free(pb);
	/* the outer frame, malloc, is also the inner frame of sample N/2 */
	CHECK(rc == 0 && pb && !p.bad && p.nsample == N && p.nloc == N && p.nmap == 1,
	      "many: %d samples, %d locations, %d mappings", p.nsample, p.nloc, p.nmap);
	if (!pb)
		goto out;
	bool named = true;
	struct sym_frame f[32];
	for (int i = 0; i < p.nloc && named; i++) {
		const struct p_loc *l = &p.loc[i];
		int n = sym_lookup(sym, l->addr, true, f, 32);
		const char *want = f[n - 1].func;
		const char *got = l->nline ? pfunc(&p, l->line[l->nline - 1].func) : NULL;
		named = l->id == (uint64_t)i + 1 && (want ? got && !strcmp(want, got) : !got);
		if (!named)
			printf("# location %d at 0x%llx: %s, want %s\n", i + 1,
			       (unsigned long long)l->addr, got ? got : "(none)", want ? want : "(none)");
	}
	CHECK(named, "many: every location names the symbolizer's function (%d functions)", p.nfunc);

	char **sorted = malloc(sizeof(*sorted) * (size_t)p.nstr);
	memcpy(sorted, p.str, sizeof(*sorted) * (size_t)p.nstr);
	qsort(sorted, (size_t)p.nstr, sizeof(*sorted), cmp_str);
	int dup = 0;
	for (int i = 1; i < p.nstr; i++)
		dup += !strcmp(sorted[i - 1], sorted[i]);
	free(sorted);
	int fdup = 0;
	for (int i = 0; i < p.nfunc; i++)
		for (int j = i + 1; j < p.nfunc; j++)
			fdup += p.func[i].name == p.func[j].name && p.func[i].filename == p.func[j].filename;
	CHECK(dup == 0 && fdup == 0, "many: no string twice (%d strings), no function twice", p.nstr);
	prof_free(&p);
out:
	query_result_free(&r);
	store_free(s);
}

/* Write errors come back as -errno. */
static void test_errors(struct fixture *fx)
{
	struct report_meta m = meta(524288);
	FILE *full = fopen("/dev/full", "w");
	if (!full) {
		printf("ok %d - # SKIP no /dev/full\n", ++checks);
		return;
	}
	int rf = export_folded(full, &m, &fx->r, fx->s, fx->sym);
	clearerr(full);
	int rp = export_pprof(full, &m, &fx->r, fx->s, fx->sym);
	fclose(full);
	CHECK(rf == -ENOSPC && rp == -ENOSPC, "writing to /dev/full: -ENOSPC (%d, %d)", rf, rp);
}

/* Runs every test; with an argument, also keeps the exported files there. */
int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	struct fixture fx;
	/* The fixture's allocations are up to 7 s old: on a machine booted
	 * less than that ago (the arm64 VM), "now" is taken later than it is. */
	bool ok = fixture_init(&fx, clock_ns(CLOCK_MONOTONIC) + 10 * SEC);
	CHECK(ok, "fixture: store with four stacks, symbolizer, query");
	if (ok) {
		test_folded(&fx, argc > 1 ? argv[1] : NULL);
		test_pprof(&fx, argc > 1 ? argv[1] : NULL);
		test_errors(&fx);
		test_many(fx.sym);
	}
	fixture_free(&fx);
	printf("%d of %d checks passed\n", checks - failures, checks);
	return failures ? 1 : 0;
}
