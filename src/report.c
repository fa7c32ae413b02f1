/*
 * report: printing a query result for people (text) and programs (json).
 *
 * Every write goes through struct out, which remembers the first failure
 * (errno of the failing stdio call), so a full disk or a closed pipe shows up
 * as the return value instead of a silently truncated report.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "finder.h"
#include "fmt.h"
#include "report.h"

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

/* printf to the report; does nothing once a write has failed. */
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

/* Writes n raw bytes to the report. */
static void out_write(struct out *o, const char *p, size_t n)
{
	if (o->err || n == 0)
		return;
	errno = 0;
	if (fwrite(p, 1, n, o->f) != n)
		out_fail(o);
}

/* Flushes the report; returns 0 or -errno of the first failed write. */
static int out_finish(struct out *o)
{
	if (!o->err) {
		errno = 0;
		if (fflush(o->f) != 0 || ferror(o->f))
			out_fail(o);
	}
	return -o->err;
}

/* Fills out[] with the entries of one frame, innermost first and the
 * physical frame last; returns their number (at least 1). Without a
 * symbolizer the frame is just its address. */
static int frame_syms(struct symbolizer *sym, taddr_t addr, struct sym_frame *out)
{
	int n = sym ? sym_lookup(sym, addr, true, out, MAX_SYM) : 0;
	if (n <= 0) {
		out[0] = (struct sym_frame){ .addr = addr };
		n = 1;
	}
	return n;
}

/* ---- text ---- */

/* Returns the last path component of p (p itself when it has no slash). */
static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');
	return s && s[1] ? s + 1 : p;
}

/* Writes a string for a terminal: control characters become \xNN, since
 * names, paths and the target's comm are the target's to choose and an
 * escape sequence in them must not reach the reader's terminal. NULL is "?". */
static void out_text(struct out *o, const char *s)
{
	if (!s)
		s = "?";
	const char *run = s;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c >= 0x20 && c != 0x7f)
			continue;
		out_write(o, run, (size_t)(s - run));
		out_printf(o, "\\x%02x", c);
		run = s + 1;
	}
	out_write(o, run, (size_t)(s - run));
}

/* Returns "s" unless the rounded figure is exactly one. */
static const char *plural(double v)
{
	return llround(v) == 1 ? "" : "s";
}

/* Returns the word for a sort order. */
static const char *sort_name(enum query_sort s)
{
	switch (s) {
	case SORT_COUNT: return "count";
	case SORT_AGE: return "age";
	case SORT_BYTES: break;
	}
	return "bytes";
}

/* Writes one stack frame as text: the physical frame, then the entries
 * inlined into it, indented under it, innermost first as the symbolizer
 * gives them (the same order as the JSON frames array). */
static void text_frame(struct out *o, unsigned idx, taddr_t addr, struct symbolizer *sym)
{
	struct sym_frame fr[MAX_SYM];
	int n = frame_syms(sym, addr, fr);
	const struct sym_frame *p = &fr[n - 1];

	out_printf(o, "    #%u " TADDR_FMT, idx, TADDR_ARG(addr));
	if (p->func) {
		out_write(o, " ", 1);
		out_text(o, p->func);
		if (p->func_off)
			out_printf(o, "+0x%llx", (unsigned long long)p->func_off);
		if (p->module) {
			out_write(o, " (", 2);
			out_text(o, p->module);
			out_write(o, ")", 1);
		}
	} else if (p->module) {
		/* no symbol: module+offset is what addr2line -e takes */
		out_write(o, " ?? (", 5);
		out_text(o, p->module);
		out_printf(o, "+0x%llx)", (unsigned long long)p->module_off);
	}
	if (p->file) {
		out_write(o, " ", 1);
		out_text(o, base_name(p->file));
		if (p->line > 0)
			out_printf(o, ":%d", p->line);
	}
	out_printf(o, "\n");

	for (int i = 0; i < n - 1; i++) {
		const struct sym_frame *e = &fr[i];
		out_printf(o, "       [inlined] ");
		out_text(o, e->func ? e->func : "??");
		if (e->file) {
			out_write(o, " (", 2);
			out_text(o, base_name(e->file));
			if (e->line > 0)
				out_printf(o, ":%d", e->line);
			out_printf(o, ")");
		}
		out_printf(o, "\n");
	}
}

/* Writes the header lines of a text report. */
static void text_header(struct out *o, const struct report_meta *m,
			const struct query_result *r, const struct query *q)
{
	char b1[32];
	bool exact = m->sample_interval == 0;

	out_printf(o, "leaktrap: live %sallocations in %d (", exact ? "" : "sampled ", (int)m->pid);
	out_text(o, m->comm);
	out_printf(o, "), %s attached, ", fmt_age(m->duration_s * 1e9, b1, sizeof(b1)));
	out_text(o, m->engine);
	out_printf(o, " engine\n");
	if (m->target_end) {
		out_printf(o, "target ");
		out_text(o, m->target_end);
		out_printf(o, " during the session\n");
	}
	if (exact)
		out_printf(o, "every allocation recorded: figures are exact "
			   "(%llu live; %llu recorded, %llu frees seen)\n",
			   (unsigned long long)r->total_samples, (unsigned long long)m->samples,
			   (unsigned long long)m->frees_seen);
	else
		out_printf(o, "sampling every %s on average: bytes and counts are estimates "
			   "from %llu sample%s (%llu taken, %llu frees seen)\n",
			   fmt_size((double)m->sample_interval, true, b1, sizeof(b1)),
			   (unsigned long long)r->total_samples, plural((double)r->total_samples),
			   (unsigned long long)m->samples, (unsigned long long)m->frees_seen);
	if (m->dropped)
		out_printf(o, "warning: %llu sampled allocation%s lost (leaktrap's reader fell "
			   "behind, or its address table was full): figures are low\n",
			   (unsigned long long)m->dropped, m->dropped == 1 ? " was" : "s were");
	if (m->frees_lost)
		out_printf(o, "warning: %llu free%s of sampled blocks %s lost (the free log was "
			   "full): those blocks still count as live, figures may be high\n",
			   (unsigned long long)m->frees_lost, m->frees_lost == 1 ? "" : "s",
			   m->frees_lost == 1 ? "was" : "were");

	out_printf(o, "allocator: ");
	if (m->allocator) {
		out_text(o, finder_family(m->pid, m->allocator));
		out_write(o, ", ", 2);
	}
	out_text(o, m->allocator ? m->allocator : "unknown");
	out_printf(o, "; hooks:");
	if (!m->hooks || m->nhooks == 0)
		out_printf(o, " none");
	unsigned via_runtime = 0;
	for (size_t i = 0; m->hooks && i < m->nhooks; i++) {
		const struct hook_info *h = &m->hooks[i];
		/* operators left to malloc and free, or absent (a C program):
		 * one phrase for them all (the JSON report lists each) */
		if (i < HK_COUNT && hook_defs[i].cxx && !h->addr) {
			via_runtime += h->why && !strncmp(h->why, "the C++ runtime", 15);
			continue;
		}
		out_printf(o, "%s ", i ? "," : "");
		out_text(o, h->func);
		out_write(o, " ", 1);
		out_text(o, h->how);
		if (h->why) {
			out_write(o, " (", 2);
			out_text(o, h->why);
			out_write(o, ")", 1);
		}
	}
	if (via_runtime)
		out_printf(o, "; %u operator new/delete variant%s: the C++ runtime's, through "
			   "malloc and free", via_runtime, via_runtime == 1 ? "" : "s");
	out_printf(o, "\n");

	if (q->min_age_ns || q->max_age_ns || q->min_size) {
		const char *sep = "";
		out_printf(o, "filters:");
		if (q->min_age_ns) {
			out_printf(o, " older than %s", fmt_age((double)q->min_age_ns, b1, sizeof(b1)));
			sep = ",";
		}
		if (q->max_age_ns) {
			out_printf(o, "%s younger than %s", sep,
				   fmt_age((double)q->max_age_ns, b1, sizeof(b1)));
			sep = ",";
		}
		if (q->min_size)
			out_printf(o, "%s at least %s", sep,
				   fmt_size((double)q->min_size, true, b1, sizeof(b1)));
		out_printf(o, "\n");
	}

	const char *est = exact ? "" : "~";
	out_printf(o, "total: %s%s in %s%.0f allocation%s%s, %zu stack%s; ",
		   est, fmt_size(r->total_bytes, false, b1, sizeof(b1)),
		   est, r->total_count, plural(r->total_count), exact ? "" : " (est.)",
		   r->ngroups_total, r->ngroups_total == 1 ? "" : "s");
	if (r->ngroups < r->ngroups_total)
		out_printf(o, "showing top %zu", r->ngroups);
	else
		out_printf(o, "showing all");
	if (q->sort != SORT_BYTES)
		out_printf(o, ", by %s", q->sort == SORT_AGE ? "age (oldest first)" : "count");
	out_printf(o, "\n");
}

/* Writes r as text to f: per group estimated live bytes and count, samples,
 * oldest age and symbolized frames. Returns 0, or -errno on a write error. */
int report_text(FILE *f, const struct report_meta *m, const struct query_result *r,
		const struct store *s, struct symbolizer *sym)
{
	static const struct query noq = { .sort = SORT_BYTES };
	if (!f || !m || !r)
		return -EINVAL;
	const struct query *q = m->query ? m->query : &noq;
	struct out o = { .f = f };
	bool exact = m->sample_interval == 0;
	const char *est = exact ? "" : "~";
	char b1[32], b2[32];

	text_header(&o, m, r, q);
	if (r->ngroups_total == 0)
		out_printf(&o, "\nno live allocations%s\n",
			   q->min_age_ns || q->max_age_ns || q->min_size ? " passed the filters" : "");

	for (size_t i = 0; i < r->ngroups && !o.err; i++) {
		const struct group *g = &r->groups[i];
		out_printf(&o, "\n#%zu stack %u: %s%s in %s%.0f allocation%s",
			   i + 1, g->stack_id, est, fmt_size(g->bytes, false, b1, sizeof(b1)),
			   est, g->count, plural(g->count));
		if (!exact)
			out_printf(&o, " (est.), %llu sample%s", (unsigned long long)g->samples,
				   plural((double)g->samples));
		out_printf(&o, ", oldest %s\n", fmt_age((double)g->oldest_ns, b2, sizeof(b2)));

		const struct stack *st = store_stack(s, g->stack_id);
		if (!st)
			out_printf(&o, "    (stack not recorded)\n");
		else if (st->nframes == 0)
			out_printf(&o, "    (no frames: the stack could not be unwound)\n");
		for (uint32_t k = 0; st && k < st->nframes && !o.err; k++)
			text_frame(&o, k, st->frames[k], sym);
	}
	return out_finish(&o);
}

/* ---- json ---- */

/* Returns the length of the well-formed UTF-8 sequence at p (1..4), or 0
 * when the bytes there are not one (overlong, surrogate, > U+10FFFF,
 * truncated or a stray continuation byte). */
static int utf8_len(const unsigned char *p)
{
	unsigned c = p[0];
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return (p[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		unsigned lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
		return p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 ? 3 : 0;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		unsigned lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
		return p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 &&
		       (p[3] & 0xc0) == 0x80 ? 4 : 0;
	}
	return 0;
}

/* Writes s as a JSON string, or null when s is NULL. Control characters,
 * quotes and backslashes are escaped; valid UTF-8 passes through; a byte
 * that is not part of valid UTF-8 becomes \u00XX (its Latin-1 reading),
 * so the document stays valid whatever bytes a path or symbol holds. */
static void json_str(struct out *o, const char *s)
{
	if (!s) {
		out_write(o, "null", 4);
		return;
	}
	const unsigned char *p = (const unsigned char *)s, *run = p;
	out_write(o, "\"", 1);
	while (*p) {
		unsigned c = *p;
		int n = c >= 0x20 && c != '"' && c != '\\' && c != 0x7f ? utf8_len(p) : 0;
		if (n) {
			p += n;
			continue;
		}
		out_write(o, (const char *)run, (size_t)(p - run));
		switch (c) {
		case '"': out_write(o, "\\\"", 2); break;
		case '\\': out_write(o, "\\\\", 2); break;
		case '\n': out_write(o, "\\n", 2); break;
		case '\t': out_write(o, "\\t", 2); break;
		case '\r': out_write(o, "\\r", 2); break;
		case '\b': out_write(o, "\\b", 2); break;
		case '\f': out_write(o, "\\f", 2); break;
		default: out_printf(o, "\\u%04x", c); break;
		}
		run = ++p;
	}
	out_write(o, (const char *)run, (size_t)(p - run));
	out_write(o, "\"", 1);
}

/* Writes a double as a JSON number: the shortest of %.15g/%.16g/%.17g that
 * reads back as the same value, always with a '.' or exponent so that it
 * parses as a float everywhere (100 -> 100.0); null when not finite. */
static void json_num(struct out *o, double v)
{
	if (!isfinite(v)) {
		out_write(o, "null", 4);
		return;
	}
	char buf[40], txt[48];
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	/* The decimal point is the locale's; JSON wants '.', whatever the
	 * program's LC_NUMERIC (it may be one byte or several). */
	size_t k = 0;
	bool point = false;
	for (const char *p = buf; *p; p++) {
		bool num = (*p >= '0' && *p <= '9') || *p == '-' || *p == '+' ||
			   *p == 'e' || *p == 'E';
		if (num) {
			txt[k++] = *p;
		} else if (!point) {
			txt[k++] = '.';
			point = true;
		}
	}
	txt[k] = 0;
	if (!point && !strpbrk(txt, "eE")) {
		txt[k++] = '.';
		txt[k++] = '0';
		txt[k] = 0;
	}
	out_write(o, txt, k);
}

/* Writes an address as a JSON hex string ("0x7f..."). */
static void json_addr(struct out *o, taddr_t a)
{
	out_printf(o, "\"" TADDR_FMT "\"", TADDR_ARG(a));
}

/* Writes the JSON entries of one stack frame (inlined ones first, each with
 * "inlined":true, then the physical frame); *first tracks the commas. */
static void json_frame(struct out *o, taddr_t addr, struct symbolizer *sym, bool *first)
{
	struct sym_frame fr[MAX_SYM];
	int n = frame_syms(sym, addr, fr);
	for (int i = 0; i < n; i++) {
		const struct sym_frame *e = &fr[i];
		out_printf(o, "%s{\"addr\":", *first ? "" : ",");
		*first = false;
		json_addr(o, addr);
		out_printf(o, ",\"func\":");
		json_str(o, e->func);
		if (e->func)
			out_printf(o, ",\"offset\":%llu", (unsigned long long)e->func_off);
		else
			out_printf(o, ",\"offset\":null");
		out_printf(o, ",\"module\":");
		json_str(o, e->module);
		out_printf(o, ",\"module_offset\":");
		if (e->module)
			out_printf(o, "\"0x%llx\"", (unsigned long long)e->module_off);
		else
			out_printf(o, "null");
		out_printf(o, ",\"file\":");
		json_str(o, e->file);
		if (e->line > 0)
			out_printf(o, ",\"line\":%d", e->line);
		else
			out_printf(o, ",\"line\":null");
		/* the physical frame is the last entry, whatever the symbolizer set */
		out_printf(o, ",\"inlined\":%s}", i < n - 1 ? "true" : "false");
	}
}

/* Writes r as one JSON document (schema in README.md). Returns 0 or -errno. */
int report_json(FILE *f, const struct report_meta *m, const struct query_result *r,
		const struct store *s, struct symbolizer *sym)
{
	static const struct query noq = { .sort = SORT_BYTES };
	if (!f || !m || !r)
		return -EINVAL;
	const struct query *q = m->query ? m->query : &noq;
	struct out o = { .f = f };

	out_printf(&o, "{\"version\":1,\"pid\":%d,\"comm\":", (int)m->pid);
	json_str(&o, m->comm);
	out_printf(&o, ",\"engine\":");
	json_str(&o, m->engine);
	out_printf(&o, ",\"sample_interval\":%llu,\"estimated\":%s,\"duration_s\":",
		   (unsigned long long)m->sample_interval, m->sample_interval ? "true" : "false");
	json_num(&o, m->duration_s);
	out_printf(&o, ",\"target_end\":");
	json_str(&o, m->target_end);
	out_printf(&o, ",\"allocator\":");
	json_str(&o, m->allocator);
	out_printf(&o, ",\"allocator_family\":");
	json_str(&o, m->allocator ? finder_family(m->pid, m->allocator) : NULL);

	out_printf(&o, ",\"hooks\":[");
	for (size_t i = 0; m->hooks && i < m->nhooks; i++) {
		const struct hook_info *h = &m->hooks[i];
		out_printf(&o, "%s{\"func\":", i ? "," : "");
		json_str(&o, h->func);
		out_printf(&o, ",\"addr\":");
		json_addr(&o, h->addr);
		out_printf(&o, ",\"how\":");
		json_str(&o, h->how);
		out_printf(&o, ",\"why\":");
		json_str(&o, h->why);
		out_printf(&o, "}");
	}

	out_printf(&o, "],\"query\":{\"min_age_s\":");
	json_num(&o, (double)q->min_age_ns / 1e9);
	out_printf(&o, ",\"max_age_s\":");
	if (q->max_age_ns)
		json_num(&o, (double)q->max_age_ns / 1e9);
	else
		out_printf(&o, "null");
	/* top stays an integer, 0 meaning all as in struct query, so that its
	 * type never changes */
	out_printf(&o, ",\"min_size\":%llu,\"top\":%u,\"sort\":\"%s\"}",
		   (unsigned long long)q->min_size, q->top, sort_name(q->sort));

	out_printf(&o, ",\"totals\":{\"bytes\":");
	json_num(&o, r->total_bytes);
	out_printf(&o, ",\"count\":");
	json_num(&o, r->total_count);
	out_printf(&o, ",\"samples\":%llu,\"frees_seen\":%llu,\"dropped\":%llu,"
		   "\"frees_lost\":%llu,\"groups\":%zu}",
		   (unsigned long long)r->total_samples, (unsigned long long)m->frees_seen,
		   (unsigned long long)m->dropped, (unsigned long long)m->frees_lost,
		   r->ngroups_total);

	out_printf(&o, ",\"groups\":[");
	for (size_t i = 0; i < r->ngroups && !o.err; i++) {
		const struct group *g = &r->groups[i];
		out_printf(&o, "%s\n{\"stack_id\":%u,\"bytes\":", i ? "," : "", g->stack_id);
		json_num(&o, g->bytes);
		out_printf(&o, ",\"count\":");
		json_num(&o, g->count);
		out_printf(&o, ",\"samples\":%llu,\"oldest_age_s\":", (unsigned long long)g->samples);
		json_num(&o, (double)g->oldest_ns / 1e9);
		out_printf(&o, ",\"frames\":[");
		const struct stack *st = store_stack(s, g->stack_id);
		bool first = true;
		for (uint32_t k = 0; st && k < st->nframes && !o.err; k++)
			json_frame(&o, st->frames[k], sym, &first);
		out_printf(&o, "]}");
	}
	out_printf(&o, "]}\n");
	return out_finish(&o);
}

int report_stack_text(FILE *f, const struct stack *st, struct symbolizer *sym)
{
	struct out o = { .f = f };
	for (uint32_t i = 0; i < st->nframes; i++)
		text_frame(&o, i, st->frames[i], sym);
	return out_finish(&o);
}
