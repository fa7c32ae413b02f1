/*
 * export: the live set in the formats other tools read.
 *
 * Folded stacks ("root;...;leaf 1234") feed flamegraph.pl, inferno and
 * speedscope. pprof is github.com/google/pprof/proto/profile.proto, gzipped,
 * written by the small protobuf encoder below: the profile is a handful of
 * messages of varints and length-delimited fields, which is less code than
 * a generated encoder and a dependency.
 *
 * As in report.c, every write goes through struct out, which keeps the
 * first errno, so a full disk is the return value and not a truncated file.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "export.h"

#define MAX_SYM 32  /* inlined entries per address, physical frame included */

struct out {
	FILE *f;
	int err;    /* first errno, 0 while all went well */
};

/* Records the first write error (errno, or EIO when stdio left none). */
static void out_fail(struct out *o)
{
	if (!o->err)
		o->err = errno ? errno : EIO;
}

/* Writes n raw bytes; does nothing once a write has failed. */
static void out_write(struct out *o, const void *p, size_t n)
{
	if (o->err || n == 0)
		return;
	errno = 0;
	if (fwrite(p, 1, n, o->f) != n)
		out_fail(o);
}

/* printf to the output; does nothing once a write has failed. */
__attribute__((format(printf, 2, 3)))
static void out_printf(struct out *o, const char *fmt, ...)
{
	if (o->err)
		return;
	va_list ap;
	va_start(ap, fmt);
	errno = 0;
	if (vfprintf(o->f, fmt, ap) < 0)
		out_fail(o);
	va_end(ap);
}

/* Flushes; returns 0 or -errno of the first failed write. */
static int out_finish(struct out *o)
{
	if (!o->err) {
		errno = 0;
		if (fflush(o->f) != 0 || ferror(o->f))
			out_fail(o);
	}
	return -o->err;
}

/* Fills fr[] with the entries of one frame, innermost first and the
 * physical frame last; returns their number (at least 1). */
static int frame_syms(struct symbolizer *sym, taddr_t addr, struct sym_frame *fr)
{
	int n = sym ? sym_lookup(sym, addr, true, fr, MAX_SYM) : 0;
	if (n <= 0) {
		fr[0] = (struct sym_frame){ .addr = addr };
		n = 1;
	}
	return n;
}

/* Returns the last path component of p (p itself when it has no slash). */
static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');
	return s && s[1] ? s + 1 : p;
}

/* Returns v rounded to an integer, 0 when negative or not finite: an
 * estimate is never below zero, and both formats want whole numbers. */
static int64_t whole(double v)
{
	return isfinite(v) && v > 0 ? (v < 9.2e18 ? llround(v) : INT64_MAX) : 0;
}

/* ---- folded ---- */

/* Writes s as (part of) a folded frame: ';' separates frames and a newline
 * ends the line, so both, and other control characters, become '_'. */
static void folded_text(struct out *o, const char *s)
{
	const char *run = s;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c != ';' && c >= 0x20 && c != 0x7f)
			continue;
		out_write(o, run, (size_t)(s - run));
		out_write(o, "_", 1);
		run = s + 1;
	}
	out_write(o, run, (size_t)(s - run));
}

/* Writes one entry of a frame: its function, else module+0xoffset (the
 * module's base name: a flame graph cell is narrow, and the full path is in
 * the other formats), else the address. */
static void folded_entry(struct out *o, const struct sym_frame *e)
{
	if (e->func) {
		folded_text(o, e->func);
	} else if (e->module) {
		folded_text(o, base_name(e->module));
		out_printf(o, "+0x%llx", (unsigned long long)e->module_off);
	} else {
		out_printf(o, TADDR_FMT, TADDR_ARG(e->addr));
	}
}

/* Writes r as folded stacks to f: one line per group, "root;...;leaf bytes".
 * Returns 0 or -errno. */
int export_folded(FILE *f, const struct report_meta *m, const struct query_result *r,
		  const struct store *s, struct symbolizer *sym)
{
	if (!f || !r)
		return -EINVAL;
	struct out o = { .f = f };
	for (size_t i = 0; i < r->ngroups && !o.err; i++) {
		const struct group *g = &r->groups[i];
		const struct stack *st = store_stack(s, g->stack_id);
		bool first = true;
		/* root first: the outermost frame, and within a frame the
		 * physical function before what was inlined into it */
		for (uint32_t k = st ? st->nframes : 0; k-- > 0;) {
			struct sym_frame fr[MAX_SYM];
			int n = frame_syms(sym, st->frames[k], fr);
			while (n-- > 0) {
				if (!first)
					out_write(&o, ";", 1);
				first = false;
				folded_entry(&o, &fr[n]);
			}
		}
		if (first)	/* perf's name for a frame it could not unwind */
			out_printf(&o, "[unknown]");
		out_printf(&o, " %lld\n", (long long)whole(g->bytes));
	}
	return out_finish(&o);
}

/* ---- protobuf encoding ---- */

/* A growing byte buffer; oom sticks once an allocation failed. */
struct buf {
	uint8_t *p;
	size_t n, cap;
	bool oom;
};

/* Makes room for more bytes; returns false (and sets oom) when out of memory. */
static bool buf_room(struct buf *b, size_t more)
{
	if (b->oom)
		return false;
	if (b->n + more <= b->cap)
		return true;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap < b->n + more)
		cap *= 2;
	uint8_t *p = realloc(b->p, cap);
	if (!p) {
		b->oom = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

/* Appends n bytes. */
static void buf_put(struct buf *b, const void *p, size_t n)
{
	if (n && buf_room(b, n)) {
		memcpy(b->p + b->n, p, n);
		b->n += n;
	}
}

/* Encodes v as a base-128 varint into p; returns its length (1..10). */
static size_t varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;
	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

/* Appends a varint. */
static void pb_varint(struct buf *b, uint64_t v)
{
	uint8_t t[10];
	buf_put(b, t, varint(t, v));
}

/* Appends field as a varint (wire type 0). int64 fields are encoded as
 * their two's complement, which is what protobuf does for negatives too.
 * Zero is proto3's default and is left out. */
static void pb_uint(struct buf *b, unsigned field, uint64_t v)
{
	if (v) {
		pb_varint(b, (uint64_t)field << 3);
		pb_varint(b, v);
	}
}

/* Appends field as length-delimited bytes (wire type 2). */
static void pb_bytes(struct buf *b, unsigned field, const void *p, size_t n)
{
	pb_varint(b, (uint64_t)field << 3 | 2);
	pb_varint(b, n);
	buf_put(b, p, n);
}

/* Starts an embedded message or packed array: returns where its body
 * begins, for pb_end. */
static size_t pb_begin(struct buf *b)
{
	return b->n;
}

/* Ends what pb_begin started as field: moves the body up to make room for
 * the tag and length in front of it (bodies are small; one buffer then
 * serves any depth of nesting). */
static void pb_end(struct buf *b, unsigned field, size_t start)
{
	uint8_t h[20];
	size_t len = b->n - start;
	size_t hn = varint(h, (uint64_t)field << 3 | 2);
	hn += varint(h + hn, len);
	if (!buf_room(b, hn))
		return;
	memmove(b->p + start + hn, b->p + start, len);
	memcpy(b->p + start, h, hn);
	b->n += hn;
}

/* ---- pprof tables ---- */

/* An open-addressed map from a 64-bit key to an id (ids start at 1; an id
 * of 0 marks an empty slot, so any key value is allowed). */
struct idmap {
	uint64_t *key;
	uint32_t *id;
	size_t cap, n;
};

/* Returns the slot of key in m: where it is, or where it would go. */
static size_t idmap_slot(const struct idmap *m, uint64_t key)
{
	size_t i = (size_t)((key * 0x9e3779b97f4a7c15ull) >> 20) & (m->cap - 1);
	while (m->id[i] && m->key[i] != key)
		i = (i + 1) & (m->cap - 1);
	return i;
}

/* Returns key's id, adding it with the next id when new (*added says
 * which); 0 when out of memory. Ids are dense: 1, 2, 3 ... */
static uint32_t idmap_get(struct idmap *m, uint64_t key, bool *added)
{
	*added = false;
	if ((m->n + 1) * 2 > m->cap) {	/* at most half full: probes stay short */
		struct idmap g = { .cap = m->cap ? m->cap * 2 : 256, .n = m->n };
		g.key = calloc(g.cap, sizeof(*g.key));
		g.id = calloc(g.cap, sizeof(*g.id));
		if (!g.key || !g.id) {
			free(g.key);
			free(g.id);
			return 0;
		}
		for (size_t i = 0; i < m->cap; i++)
			if (m->id[i]) {
				size_t j = idmap_slot(&g, m->key[i]);
				g.key[j] = m->key[i];
				g.id[j] = m->id[i];
			}
		free(m->key);
		free(m->id);
		*m = g;
	}
	size_t i = idmap_slot(m, key);
	if (!m->id[i]) {
		m->key[i] = key;
		m->id[i] = (uint32_t)++m->n;
		*added = true;
	}
	return m->id[i];
}

/* The string table: strings in order of first use, index 0 is "". A
 * string's index is found through an idmap keyed by its hash; a different
 * string with the same hash takes the next key that is free or its own. */
struct strtab {
	const char **s;      /* borrowed: the symbolizer's or the caller's */
	size_t n, cap;
	struct idmap byhash;  /* id = index */
	bool oom;
};

/* Returns the 64-bit FNV-1a hash of s. */
static uint64_t str_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return h;
}

/* Appends s to the table's list; returns false when out of memory. */
static bool str_push(struct strtab *t, const char *s)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 256;
		const char **p = realloc(t->s, cap * sizeof(*p));
		if (!p)
			return false;
		t->s = p;
		t->cap = cap;
	}
	t->s[t->n++] = s;
	return true;
}

/* Returns the index of s in the table, adding it when new; NULL and ""
 * are 0. */
static int64_t str_index(struct strtab *t, const char *s)
{
	if (t->n == 0 && !t->oom && !str_push(t, ""))	/* "" is never looked up */
		t->oom = true;
	if (!s || !*s || t->oom)
		return 0;
	for (uint64_t key = str_hash(s);; key++) {
		bool added;
		uint32_t id = idmap_get(&t->byhash, key, &added);
		if (!id || (added && !str_push(t, s)))
			break;
		if (added || !strcmp(t->s[id], s))
			return id;	/* ids count from 1, as indexes past "" do */
	}
	t->oom = true;
	return 0;
}

/* One mapping per module, its address range grown to cover every address
 * seen in it. */
struct pmap {
	const char *module;
	taddr_t start, limit;
};

/* Everything a profile is built from; the messages go into three buffers
 * that are gzipped in turn. */
struct pprof {
	struct symbolizer *sym;
	struct buf samples, locs, funcs;
	struct idmap loc_ids, func_ids;
	struct strtab str;
	struct pmap *maps;
	size_t nmaps;
	bool oom;
};

/* Returns the mapping id (1-based) of e's module, adding the module and
 * widening its range to cover e->addr; 0 when e has no module. */
static uint64_t pprof_mapping(struct pprof *p, const struct sym_frame *e)
{
	if (!e->module)
		return 0;
	size_t i = 0;
	while (i < p->nmaps && strcmp(p->maps[i].module, e->module))
		i++;
	if (i == p->nmaps) {
		struct pmap *m = realloc(p->maps, (p->nmaps + 1) * sizeof(*m));
		if (!m) {
			p->oom = true;
			return 0;
		}
		p->maps = m;
		/* the load bias: addr - module_off is the same for every
		 * address of the module */
		taddr_t start = e->addr - e->module_off;
		p->maps[p->nmaps++] = (struct pmap){ e->module, start, start };
	}
	if (e->addr + 1 > p->maps[i].limit)
		p->maps[i].limit = e->addr + 1;
	return i + 1;
}

/* Returns the Function id for e's name and file, encoding the Function the
 * first time; 0 when out of memory. */
static uint64_t pprof_function(struct pprof *p, const struct sym_frame *e)
{
	int64_t name = str_index(&p->str, e->func ? e->func : "??");
	int64_t file = str_index(&p->str, e->file);
	bool added;
	uint32_t id = idmap_get(&p->func_ids, (uint64_t)name << 32 | (uint64_t)file, &added);
	if (!id)
		p->oom = true;
	if (added) {
		size_t at = pb_begin(&p->funcs);
		pb_uint(&p->funcs, 1, id);	/* id */
		pb_uint(&p->funcs, 2, (uint64_t)name);
		pb_uint(&p->funcs, 3, (uint64_t)name);	/* system_name */
		pb_uint(&p->funcs, 4, (uint64_t)file);
		pb_end(&p->funcs, 5, at);	/* Profile.function */
	}
	return id;
}

/* The key of the Location that stands for a stack with no frames: no
 * return address is ~0, the top of the address space is the kernel's. */
#define NO_STACK (~(taddr_t)0)

/* Returns the Location id of a return address (or NO_STACK), encoding the
 * Location and its functions the first time; 0 when out of memory. */
static uint64_t pprof_location(struct pprof *p, taddr_t addr)
{
	bool added;
	uint32_t id = idmap_get(&p->loc_ids, addr, &added);
	if (!id)
		p->oom = true;
	if (!added)
		return id;
	struct sym_frame fr[MAX_SYM];
	int n = 1;
	if (addr == NO_STACK)	/* named as in the folded output */
		fr[0] = (struct sym_frame){ .func = "[unknown]" };
	else
		n = frame_syms(p->sym, addr, fr);
	struct buf *b = &p->locs;
	size_t at = pb_begin(b);
	pb_uint(b, 1, id);
	pb_uint(b, 2, pprof_mapping(p, &fr[n - 1]));
	pb_uint(b, 3, addr == NO_STACK ? 0 : addr);
	/* Lines: innermost (inlined) first, the physical function last, as
	 * sym_lookup gives them and pprof wants them. An address with no
	 * function at all gets none: pprof shows it by address and mapping. */
	for (int i = 0; i < n && (n > 1 || fr[0].func); i++) {
		size_t line = pb_begin(b);
		pb_uint(b, 1, pprof_function(p, &fr[i]));
		pb_uint(b, 2, fr[i].line > 0 ? (uint64_t)fr[i].line : 0);
		pb_end(b, 4, line);	/* Location.line */
	}
	pb_end(b, 4, at);	/* Profile.location */
	return id;
}

/* Appends a numeric Label (key, num, unit) to a Sample. */
static void pprof_label(struct pprof *p, const char *key, int64_t num, const char *unit)
{
	struct buf *b = &p->samples;
	size_t at = pb_begin(b);
	pb_uint(b, 1, (uint64_t)str_index(&p->str, key));
	pb_uint(b, 3, (uint64_t)num);
	pb_uint(b, 4, (uint64_t)str_index(&p->str, unit));
	pb_end(b, 3, at);	/* Sample.label */
}

/* Appends one Sample for group g. */
static void pprof_sample(struct pprof *p, const struct group *g, const struct stack *st)
{
	struct buf *b = &p->samples;
	size_t at = pb_begin(b);
	/* leaf first: frames[0], the allocator's caller, is pprof's leaf. A
	 * sample without locations is counted in pprof's totals but shown
	 * nowhere, so a stack that could not be unwound gets one. */
	size_t ids = pb_begin(b);
	for (uint32_t k = 0; st && k < st->nframes; k++)
		pb_varint(b, pprof_location(p, st->frames[k]));
	if (!st || !st->nframes)
		pb_varint(b, pprof_location(p, NO_STACK));
	pb_end(b, 1, ids);	/* location_id, packed */
	size_t vals = pb_begin(b);
	pb_varint(b, (uint64_t)whole(g->count));
	pb_varint(b, (uint64_t)whole(g->bytes));
	pb_end(b, 2, vals);	/* value, packed, in sample_type order */
	pprof_label(p, "age", (int64_t)(g->oldest_ns > INT64_MAX ? INT64_MAX : g->oldest_ns),
		    "nanoseconds");
	pprof_label(p, "samples", (int64_t)(g->samples > INT64_MAX ? INT64_MAX : g->samples), NULL);
	pb_end(b, 2, at);	/* Profile.sample */
}

/* Appends a ValueType {type, unit} as field. */
static void pprof_value_type(struct pprof *p, struct buf *b, unsigned field,
			     const char *type, const char *unit)
{
	size_t at = pb_begin(b);
	pb_uint(b, 1, (uint64_t)str_index(&p->str, type));
	pb_uint(b, 2, (uint64_t)str_index(&p->str, unit));
	pb_end(b, field, at);
}

/* Appends the Profile's own fields (sample types, mappings, comments, time,
 * period) to b; they come last, once every mapping has its final range. */
static void pprof_header(struct pprof *p, struct buf *b, const struct report_meta *m)
{
	pprof_value_type(p, b, 1, "inuse_objects", "count");
	pprof_value_type(p, b, 1, "inuse_space", "bytes");
	for (size_t i = 0; i < p->nmaps; i++) {
		size_t at = pb_begin(b);
		bool symbolized = p->sym != NULL;
		pb_uint(b, 1, i + 1);
		pb_uint(b, 2, p->maps[i].start);
		pb_uint(b, 3, p->maps[i].limit);
		/* file_offset stays 0: start is the load bias, so an address
		 * minus start is the module offset addr2line takes */
		pb_uint(b, 5, (uint64_t)str_index(&p->str, p->maps[i].module));
		/* what pprof needs not look up again in the binaries */
		pb_uint(b, 7, symbolized);
		pb_uint(b, 8, symbolized);
		pb_uint(b, 9, symbolized);
		pb_uint(b, 10, symbolized);
		pb_end(b, 3, at);
	}

	/* the table borrows these: they live until it is written, below */
	char c1[256], c2[128], c3[96], c4[112];
	snprintf(c1, sizeof(c1), "leaktrap: live allocations in %d (%s)%s%s", (int)m->pid,
		 m->comm ? m->comm : "?", m->target_end ? ", target " : "",
		 m->target_end ? m->target_end : "");
	pb_uint(b, 13, (uint64_t)str_index(&p->str, c1));
	if (m->sample_interval) {
		snprintf(c2, sizeof(c2), "values are estimates from sampling every %llu bytes "
			 "on average", (unsigned long long)m->sample_interval);
		pb_uint(b, 13, (uint64_t)str_index(&p->str, c2));
	}
	if (m->dropped) {
		snprintf(c3, sizeof(c3), "%llu sampled allocations were lost: values are low",
			 (unsigned long long)m->dropped);
		pb_uint(b, 13, (uint64_t)str_index(&p->str, c3));
	}
	if (m->frees_lost) {
		snprintf(c4, sizeof(c4), "%llu frees of sampled blocks were lost: values may be high",
			 (unsigned long long)m->frees_lost);
		pb_uint(b, 13, (uint64_t)str_index(&p->str, c4));
	}

	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	pb_uint(b, 9, (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
	pb_uint(b, 10, (uint64_t)whole(m->duration_s * 1e9));
	pprof_value_type(p, b, 11, "space", "bytes");
	pb_uint(b, 12, m->sample_interval);
	pb_uint(b, 14, (uint64_t)str_index(&p->str, "inuse_space"));	/* default_sample_type */

	/* the string table goes last: everything above has been interned */
	pb_bytes(b, 6, "", 0);
	for (size_t i = 1; i < p->str.n; i++)
		pb_bytes(b, 6, p->str.s[i], strlen(p->str.s[i]));
}

/* Compresses b->p[0..n) into z and writes what comes out; with finish,
 * ends the gzip stream. Returns 0, or -ENOMEM/-EIO from zlib. */
static int gz_write(struct out *o, z_stream *z, const struct buf *b, bool finish)
{
	uint8_t chunk[16384];
	z->next_in = b->p;
	z->avail_in = (uInt)b->n;	/* our buffers stay far below 4 GiB */
	int rc;
	do {
		z->next_out = chunk;
		z->avail_out = sizeof(chunk);
		rc = deflate(z, finish ? Z_FINISH : Z_NO_FLUSH);
		if (rc == Z_STREAM_ERROR)
			return -EIO;
		out_write(o, chunk, sizeof(chunk) - z->avail_out);
	} while (!o->err && (z->avail_out == 0 || (finish && rc != Z_STREAM_END)));
	return 0;
}

/* Writes r as a gzipped pprof profile.proto to f. Returns 0 or -errno. */
int export_pprof(FILE *f, const struct report_meta *m, const struct query_result *r,
		 const struct store *s, struct symbolizer *sym)
{
	if (!f || !m || !r)
		return -EINVAL;
	struct pprof p = { .sym = sym };
	struct buf head = { 0 };
	struct out o = { .f = f };
	int rc = 0;

	for (size_t i = 0; i < r->ngroups; i++)
		pprof_sample(&p, &r->groups[i], store_stack(s, r->groups[i].stack_id));
	pprof_header(&p, &head, m);
	if (p.oom || p.str.oom || p.samples.oom || p.locs.oom || p.funcs.oom || head.oom) {
		rc = -ENOMEM;
		goto out;
	}

	z_stream z = { 0 };
	/* windowBits 15 + 16: a gzip wrapper, which is what pprof reads */
	if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK) {
		rc = -ENOMEM;
		goto out;
	}
	/* the order of fields does not matter to protobuf */
	rc = gz_write(&o, &z, &p.samples, false);
	if (!rc)
		rc = gz_write(&o, &z, &p.locs, false);
	if (!rc)
		rc = gz_write(&o, &z, &p.funcs, false);
	if (!rc)
		rc = gz_write(&o, &z, &head, true);
	deflateEnd(&z);
	if (!rc)
		rc = out_finish(&o);
out:
	free(head.p);
	free(p.samples.p);
	free(p.locs.p);
	free(p.funcs.p);
	free(p.loc_ids.key);
	free(p.loc_ids.id);
	free(p.func_ids.key);
	free(p.func_ids.id);
	free(p.str.byhash.key);
	free(p.str.byhash.id);
	free(p.str.s);
	free(p.maps);
	return rc;
}
