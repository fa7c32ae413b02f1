/* report: a query result as text for people and as JSON for programs. */
#include <errno.h>
#include <math.h>
#include <string.h>
#include "report.h"

#define MAX_SYM 16

/* Formats bytes with a binary unit. */
static const char *human_size(double b, char *buf, size_t len)
{
	static const char *unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	int i = 0;
	while (b >= 1024 && i < 4) {
		b /= 1024;
		i++;
	}
	snprintf(buf, len, i ? "%.1f %s" : "%.0f %s", b, unit[i]);
	return buf;
}

/* Formats an age in nanoseconds. */
static const char *human_age(uint64_t ns, char *buf, size_t len)
{
	double s = (double)ns / 1e9;
	if (s < 1)
		snprintf(buf, len, "%.0f ms", s * 1e3);
	else if (s < 120)
		snprintf(buf, len, "%.1f s", s);
	else if (s < 7200)
		snprintf(buf, len, "%.1f m", s / 60);
	else
		snprintf(buf, len, "%.1f h", s / 3600);
	return buf;
}

/* Returns 0, or -errno if writing to f failed. */
static int finish(FILE *f)
{
	if (fflush(f) != 0 || ferror(f))
		return errno ? -errno : -EIO;
	return 0;
}

/* The basename of a path. */
static const char *base(const char *p)
{
	const char *s = p ? strrchr(p, '/') : NULL;
	return s ? s + 1 : p;
}

int report_text(FILE *f, const struct report_meta *m, const struct query_result *r,
		const struct store *s, struct symbolizer *sym)
{
	char b1[32], b2[32];
	bool exact = m->sample_interval == 0;
	const char *est = exact ? "" : "~";
	fprintf(f, "leaktrap: live sampled allocations in %d (%s), %.1f s attached, %s engine\n",
		m->pid, m->comm ? m->comm : "?", m->duration_s, m->engine);
	if (m->target_end)
		fprintf(f, "the target %s during the session\n", m->target_end);
	if (exact)
		fprintf(f, "every allocation recorded: figures are exact\n");
	else
		fprintf(f, "sampling every %s on average: bytes and counts are estimates from %llu samples\n",
			human_size((double)m->sample_interval, b1, sizeof(b1)), (unsigned long long)m->samples);
	fprintf(f, "allocator: %s; hooks:", m->allocator && m->allocator[0] ? m->allocator : "?");
	for (size_t i = 0; i < m->nhooks; i++)
		if (m->hooks[i].addr)
			fprintf(f, " %s %s%s", m->hooks[i].func, m->hooks[i].how,
				i + 1 < m->nhooks ? "," : "");
	fprintf(f, "\n");
	if (m->dropped)
		fprintf(f, "%llu samples could not be tracked (sampled-address table full): "
			"estimates are low by about that share\n", (unsigned long long)m->dropped);
	fprintf(f, "total: %s%s in %s%.0f allocations%s, %zu stacks", est,
		human_size(r->total_bytes, b1, sizeof(b1)), est, r->total_count, exact ? "" : " (est.)",
		r->ngroups_total);
	if (r->ngroups < r->ngroups_total)
		fprintf(f, "; showing top %zu", r->ngroups);
	fprintf(f, "\n");
	for (size_t g = 0; g < r->ngroups; g++) {
		const struct group *gr = &r->groups[g];
		const struct stack *st = store_stack(s, gr->stack_id);
		fprintf(f, "\n#%zu stack %u: %s%s in %s%.0f allocations%s, %llu samples, oldest %s\n",
			g + 1, gr->stack_id, est, human_size(gr->bytes, b1, sizeof(b1)), est, gr->count,
			exact ? "" : " (est.)", (unsigned long long)gr->samples,
			human_age(gr->oldest_ns, b2, sizeof(b2)));
		for (uint32_t i = 0; st && i < st->nframes; i++) {
			struct sym_frame fr[MAX_SYM];
			int n = 1;
			if (sym)
				n = sym_lookup(sym, st->frames[i], true, fr, MAX_SYM);
			else
				fr[0] = (struct sym_frame){ .addr = st->frames[i] };
			/* The physical frame is last; inlined ones come before it. */
			const struct sym_frame *p = &fr[n - 1];
			fprintf(f, "    #%-2u " TADDR_FMT " ", i, TADDR_ARG(st->frames[i]));
			if (p->func)
				fprintf(f, "%s+0x%llx", p->func, (unsigned long long)p->func_off);
			else if (p->module)
				fprintf(f, "%s+0x%llx", base(p->module), (unsigned long long)p->module_off);
			else
				fprintf(f, "??");
			if (p->module)
				fprintf(f, " (%s)", p->module);
			if (p->file)
				fprintf(f, " %s:%d", base(p->file), p->line);
			fprintf(f, "\n");
			for (int k = n - 2; k >= 0; k--)
				fprintf(f, "         [inlined] %s (%s:%d)\n", fr[k].func ? fr[k].func : "??",
					fr[k].file ? base(fr[k].file) : "??", fr[k].line);
		}
	}
	return finish(f);
}

/* Writes s as a JSON string (null for NULL), escaping what JSON requires. */
static void json_str(FILE *f, const char *s)
{
	if (!s) {
		fputs("null", f);
		return;
	}
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20 || *p >= 0x7f)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

/* Writes a finite number; an exact integer prints without a fraction. */
static void json_num(FILE *f, double v)
{
	if (!isfinite(v))
		v = 0;
	if (v == floor(v) && fabs(v) < 1e15)
		fprintf(f, "%.1f", v);
	else
		fprintf(f, "%.6g", v);
}

int report_json(FILE *f, const struct report_meta *m, const struct query_result *r,
		const struct store *s, struct symbolizer *sym)
{
	static const char *sorts[] = { "bytes", "count", "age" };
	fprintf(f, "{\"version\":1,\"pid\":%d,\"comm\":", m->pid);
	json_str(f, m->comm);
	fputs(",\"engine\":", f);
	json_str(f, m->engine);
	fprintf(f, ",\"sample_interval\":%llu,\"estimated\":%s,\"duration_s\":",
		(unsigned long long)m->sample_interval, m->sample_interval ? "true" : "false");
	json_num(f, m->duration_s);
	fputs(",\"target_end\":", f);
	json_str(f, m->target_end);
	fputs(",\"allocator\":", f);
	json_str(f, m->allocator);
	fputs(",\"hooks\":[", f);
	for (size_t i = 0, first = 1; i < m->nhooks; i++) {
		if (!m->hooks[i].addr)
			continue;
		fprintf(f, "%s{\"func\":", first ? "" : ",");
		first = 0;
		json_str(f, m->hooks[i].func);
		fprintf(f, ",\"addr\":\"" TADDR_FMT "\",\"how\":", TADDR_ARG(m->hooks[i].addr));
		json_str(f, m->hooks[i].how);
		fputs(",\"why\":", f);
		json_str(f, m->hooks[i].why);
		fputc('}', f);
	}
	const struct query *q = m->query;
	fputs("],\"query\":{\"min_age_s\":", f);
	json_num(f, q ? (double)q->min_age_ns / 1e9 : 0);
	fputs(",\"max_age_s\":", f);
	if (q && q->max_age_ns)
		json_num(f, (double)q->max_age_ns / 1e9);
	else
		fputs("null", f);
	fprintf(f, ",\"min_size\":%llu,\"top\":%u,\"sort\":\"%s\"}",
		(unsigned long long)(q ? q->min_size : 0), q ? q->top : 0, sorts[q ? q->sort : 0]);
	fputs(",\"totals\":{\"bytes\":", f);
	json_num(f, r->total_bytes);
	fputs(",\"count\":", f);
	json_num(f, r->total_count);
	fprintf(f, ",\"samples\":%llu,\"frees_seen\":%llu,\"dropped\":%llu,\"groups\":%zu},\"groups\":[",
		(unsigned long long)r->total_samples, (unsigned long long)m->frees_seen,
		(unsigned long long)m->dropped, r->ngroups_total);
	for (size_t g = 0; g < r->ngroups; g++) {
		const struct group *gr = &r->groups[g];
		const struct stack *st = store_stack(s, gr->stack_id);
		fprintf(f, "%s{\"stack_id\":%u,\"bytes\":", g ? "," : "", gr->stack_id);
		json_num(f, gr->bytes);
		fputs(",\"count\":", f);
		json_num(f, gr->count);
		fprintf(f, ",\"samples\":%llu,\"oldest_age_s\":", (unsigned long long)gr->samples);
		json_num(f, (double)gr->oldest_ns / 1e9);
		fputs(",\"frames\":[", f);
		bool first = true;
		for (uint32_t i = 0; st && i < st->nframes; i++) {
			struct sym_frame fr[MAX_SYM];
			int n = 1;
			if (sym)
				n = sym_lookup(sym, st->frames[i], true, fr, MAX_SYM);
			else
				fr[0] = (struct sym_frame){ .addr = st->frames[i] };
			for (int k = 0; k < n; k++) {
				fprintf(f, "%s{\"addr\":\"" TADDR_FMT "\",\"func\":", first ? "" : ",",
					TADDR_ARG(st->frames[i]));
				first = false;
				json_str(f, fr[k].func);
				fprintf(f, ",\"offset\":%llu,\"module\":", (unsigned long long)fr[k].func_off);
				json_str(f, fr[k].module);
				fprintf(f, ",\"module_offset\":\"0x%llx\",\"file\":", (unsigned long long)fr[k].module_off);
				json_str(f, fr[k].file);
				fputs(",\"line\":", f);
				if (fr[k].line)
					fprintf(f, "%d", fr[k].line);
				else
					fputs("null", f);
				fprintf(f, ",\"inlined\":%s}", k < n - 1 ? "true" : "false");
			}
		}
		fputs("]}", f);
	}
	fputs("]}\n", f);
	return finish(f);
}
