/*
 * view: what the shell's commands print, as text for people.
 *
 * Every figure that comes from sampling is labelled an estimate ("~" and a
 * line saying so); with every allocation recorded the figures are exact and
 * say that instead. Names come from the target and pass through fmt_clean.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fmt.h"
#include "hookdefs.h"
#include "keys.h"
#include "report.h"
#include "view.h"

#define AGE_BUCKETS 7   /* <10ms, <100ms, <1s, <10s, <100s, <1000s, older */

/* Returns "~" for sampled figures, "" for exact ones. */
static const char *est(const struct session *S)
{
	return S->interval ? "~" : "";
}

/* Prints the line saying how exact the figures are. */
static void accuracy_line(FILE *f, const struct session *S, uint64_t samples)
{
	char b[32];
	if (S->interval)
		fprintf(f, "(~ estimates from %llu samples, one per %s allocated on average)\n",
			(unsigned long long)samples, fmt_size((double)S->interval, true, b, sizeof(b)));
	else
		fprintf(f, "(exact: every allocation recorded)\n");
}

const char *view_stack_name(struct session *S, uint32_t id, char *buf, size_t len)
{
	uint64_t key;
	char clean[400];
	if (keys_site(S->keys, id, &key, 1) == 1)
		snprintf(buf, len, "stack %u: %s", id,
			 fmt_clean(keys_name(S->keys, key), clean, sizeof(clean)));
	else
		snprintf(buf, len, "stack %u", id);
	return buf;
}

/* Writes the name of group g of a query by `by` into buf and returns buf. */
static const char *group_name(struct session *S, enum query_by by, const struct group *g,
			      char *buf, size_t len)
{
	char clean[400], b1[32], b2[32];
	switch (by) {
	case BY_STACK:
		return view_stack_name(S, g->stack_id, buf, len);
	case BY_THREAD:
		snprintf(buf, len, "thread %llu", (unsigned long long)g->key);
		return buf;
	case BY_SIZE:
		if (g->key == 0)
			snprintf(buf, len, "0 B");
		else
			snprintf(buf, len, "[%s, %s)",
				 fmt_size(ldexp(1, (int)g->key - 1), true, b1, sizeof(b1)),
				 fmt_size(ldexp(1, (int)g->key), true, b2, sizeof(b2)));
		return buf;
	default:
		snprintf(buf, len, "%s  [e.g. stack %u]",
			 fmt_clean(keys_name(S->keys, g->key), clean, sizeof(clean)), g->stack_id);
		return buf;
	}
}

static const char *by_word[] = { "stack", "site", "func", "module", "thread", "size" };

void view_live(FILE *f, struct session *S, const struct query *q, const struct query_result *r)
{
	char b1[32], b2[32], name[600];
	fprintf(f, "live by %s: %s%s in %s%.0f allocations, %zu group%s", by_word[q->by],
		est(S), fmt_size(r->total_bytes, false, b1, sizeof(b1)), est(S), r->total_count,
		r->ngroups_total, r->ngroups_total == 1 ? "" : "s");
	if (r->ngroups < r->ngroups_total)
		fprintf(f, " (top %zu shown)", r->ngroups);
	fprintf(f, "\n");
	accuracy_line(f, S, r->total_samples);
	if (q->by == BY_FUNC)
		fprintf(f, "(by func is inclusive: a function counts every allocation below it)\n");
	if (!r->ngroups)
		return;
	fprintf(f, "%4s %12s %10s %8s %8s  %s\n", "#", "bytes", "count", "samples", "oldest",
		by_word[q->by]);
	for (size_t i = 0; i < r->ngroups; i++) {
		const struct group *g = &r->groups[i];
		snprintf(b2, sizeof(b2), "%s%s", est(S), fmt_size(g->bytes, false, b1, sizeof(b1)));
		fprintf(f, "%4zu %12s %10.0f %8llu %8s  %s\n", i + 1, b2, g->count,
			(unsigned long long)g->samples, fmt_age((double)g->oldest_ns, b1, sizeof(b1)),
			group_name(S, q->by, g, name, sizeof(name)));
	}
}

/* Returns the age bucket of an age in nanoseconds. */
static int age_bucket(uint64_t age)
{
	uint64_t edge = 10000000ULL;	/* 10 ms */
	int b = 0;
	while (b < AGE_BUCKETS - 1 && age >= edge)
		edge *= 10, b++;
	return b;
}

/* The live set folded into age buckets, overall or for one stack. */
struct age_hist {
	const struct query *q;
	uint64_t now;
	uint32_t stack_id;     /* 0: every stack */
	double bytes[AGE_BUCKETS];
	double count[AGE_BUCKETS];
};

/* store_foreach_live callback: adds one allocation to its age bucket. */
static void age_visit(const struct live *l, void *arg)
{
	struct age_hist *h = arg;
	uint64_t age = h->now > l->t_ns ? h->now - l->t_ns : 0;
	if ((h->stack_id && l->stack_id != h->stack_id) || age < h->q->min_age_ns ||
	    (h->q->max_age_ns && age > h->q->max_age_ns) || l->size < h->q->min_size)
		return;
	int b = age_bucket(age);
	h->bytes[b] += l->weight_bytes;
	h->count[b] += l->weight_count;
}

/* Prints one histogram with bars scaled to its largest bucket. */
static void age_print(FILE *f, const struct session *S, const struct age_hist *h)
{
	static const char *label[AGE_BUCKETS] = { "< 10 ms", "10-100 ms", "0.1-1 s", "1-10 s",
						  "10-100 s", "100-1000 s", ">= 1000 s" };
	double max = 0;
	char b1[32], b2[32];
	for (int i = 0; i < AGE_BUCKETS; i++)
		max = h->bytes[i] > max ? h->bytes[i] : max;
	for (int i = 0; i < AGE_BUCKETS; i++) {
		int w = max > 0 ? (int)lround(40 * h->bytes[i] / max) : 0;
		snprintf(b2, sizeof(b2), "%s%s", h->bytes[i] ? est(S) : "",
			 fmt_size(h->bytes[i], false, b1, sizeof(b1)));
		fprintf(f, "  %-11s %12s %10.0f  ", label[i], b2, h->count[i]);
		for (int k = 0; k < w; k++)
			fputc('#', f);
		fputc('\n', f);
	}
}

void view_age(FILE *f, struct session *S, const struct query *q, bool by_stack)
{
	struct age_hist h = { .q = q, .now = session_now(S) };
	char name[600];
	if (!by_stack) {
		fprintf(f, "live bytes by age:\n");
		store_foreach_live(S->e.store, age_visit, &h);
		age_print(f, S, &h);
		accuracy_line(f, S, store_live_count(S->e.store));
		return;
	}
	struct query tq = *q;
	struct query_result r;
	tq.by = BY_STACK;
	if (!tq.top)
		tq.top = 5;
	if (query_live(S->e.store, &tq, h.now, &r) < 0) {
		fprintf(f, "out of memory\n");
		return;
	}
	for (size_t i = 0; i < r.ngroups; i++) {
		struct age_hist hs = { .q = q, .now = h.now, .stack_id = r.groups[i].stack_id };
		store_foreach_live(S->e.store, age_visit, &hs);
		fprintf(f, "%s\n", view_stack_name(S, r.groups[i].stack_id, name, sizeof(name)));
		age_print(f, S, &hs);
	}
	if (!r.ngroups)
		fprintf(f, "no live allocations\n");
	accuracy_line(f, S, r.total_samples);
	query_result_free(&r);
}

int view_stack(FILE *f, struct session *S, uint32_t id)
{
	const struct stack *st = store_stack(S->e.store, id);
	if (!st)
		return -1;
	struct query q = { .sort = SORT_BYTES };
	struct query_result r;
	char b1[32], b2[32];
	fprintf(f, "stack %u", id);
	if (query_by_stack(S->e.store, &q, session_now(S), &r) == 0) {
		for (size_t i = 0; i < r.ngroups; i++)
			if (r.groups[i].stack_id == id)
				fprintf(f, ": %s%s live in %s%.0f allocations, oldest %s",
					est(S), fmt_size(r.groups[i].bytes, false, b1, sizeof(b1)),
					est(S), r.groups[i].count,
					fmt_age((double)r.groups[i].oldest_ns, b2, sizeof(b2)));
		query_result_free(&r);
	}
	fprintf(f, "\n");
	fflush(f);
	report_stack_text(f, st, S->sym);
	return 0;
}

void view_snapshots(FILE *f, const struct session *S)
{
	char b1[32], b2[32];
	if (!S->nnamed)
		fprintf(f, "no snapshots: take one with 'snapshot [NAME]'\n");
	for (size_t i = 0; i < S->nnamed; i++) {
		const struct snapshot *s = &S->named[i];
		fprintf(f, "%-12s %s ago, %s%s live in %s%.0f allocations, %zu stacks\n", s->name,
			fmt_age((double)(session_now(S) - s->t_ns), b1, sizeof(b1)), est(S),
			fmt_size(s->total_bytes, false, b2, sizeof(b2)), est(S), s->total_count, s->n);
	}
	fprintf(f, "(%zu automatic snapshot%s kept for 'leaks', one every %.0f s)\n", S->nautos,
		S->nautos == 1 ? "" : "s",
		AUTO_SNAP_PERIOD_NS / 1e9);
}

void view_diff(FILE *f, struct session *S, const struct snapshot *a, const struct snapshot *b,
	       const char *aname, const char *bname, unsigned top)
{
	static const char *mark[] = { "grown", "shrunk", "new", "gone" };
	struct diff_row *rows;
	char b1[32], b2[32], b3[32], name[600];
	long n = snapshot_diff(a, b, &rows);
	if (n < 0) {
		fprintf(f, "out of memory\n");
		return;
	}
	fprintf(f, "diff %s -> %s (%s apart): live %s%s -> %s%s, %ld stack%s changed\n", aname, bname,
		fmt_age((double)(b->t_ns - a->t_ns), b1, sizeof(b1)), est(S),
		fmt_size(a->total_bytes, false, b2, sizeof(b2)), est(S),
		fmt_size(b->total_bytes, false, b3, sizeof(b3)), n, n == 1 ? "" : "s");
	accuracy_line(f, S, store_live_count(S->e.store));
	if (n)
		fprintf(f, "%-7s %13s %10s %26s  %s\n", "", "change", "count", "before -> after", "stack");
	for (long i = 0; i < n && (!top || i < (long)top); i++) {
		const struct diff_row *d = &rows[i];
		char ch[48], ba[64];
		snprintf(ch, sizeof(ch), "%s%s%s", d->d_bytes < 0 ? "-" : "+", est(S),
			 fmt_size(fabs(d->d_bytes), false, b1, sizeof(b1)));
		snprintf(ba, sizeof(ba), "%s -> %s", fmt_size(d->a_bytes, false, b2, sizeof(b2)),
			 fmt_size(d->b_bytes, false, b3, sizeof(b3)));
		fprintf(f, "%-7s %13s %+10.0f %26s  %s\n", mark[d->mark], ch, d->d_count, ba,
			view_stack_name(S, d->stack_id, name, sizeof(name)));
	}
	if (top && n > (long)top)
		fprintf(f, "(%ld more; 'diff %s %s top 0' shows all)\n", n - (long)top, aname, bname);
	free(rows);
}

void view_leaks(FILE *f, struct session *S, const struct snapshot *const *series, size_t n,
		const struct leak_row *rows, size_t nrows, unsigned top)
{
	char b1[32], b2[32], b3[32], name[600];
	double total = series[n - 1]->total_bytes;
	struct query q = { .sort = SORT_BYTES };
	struct query_result r = { 0 };
	query_by_stack(S->e.store, &q, session_now(S), &r);
	fprintf(f, "leak suspects over the last %s (%zu automatic snapshots): %zu\n",
		fmt_age((double)(series[n - 1]->t_ns - series[0]->t_ns), b1, sizeof(b1)), n, nrows);
	fprintf(f, "(a suspect's bytes older than %.0f s grow steadily; churn and caches do not)\n",
		series[0]->old_ns / 1e9);
	for (size_t i = 0; i < nrows && (!top || i < top); i++) {
		const struct leak_row *l = &rows[i];
		uint64_t oldest = 0;
		for (size_t g = 0; g < r.ngroups; g++)
			if (r.groups[g].stack_id == l->stack_id)
				oldest = r.groups[g].oldest_ns;
		fprintf(f, "%2zu. %s\n", i + 1, view_stack_name(S, l->stack_id, name, sizeof(name)));
		fprintf(f, "    old live bytes grow %s%s/s (fit r2 %.2f, grew in %u of %u intervals); "
			"oldest allocation %s old; %s%s live, %.0f%% of all live bytes\n",
			est(S), fmt_size(l->rate, false, b1, sizeof(b1)), l->r2, l->grew, l->steps,
			fmt_age((double)oldest, b2, sizeof(b2)), est(S),
			fmt_size(l->bytes, false, b3, sizeof(b3)),
			total > 0 ? 100 * l->bytes / total : 0);
	}
	if (!nrows)
		fprintf(f, "no stack's old live bytes grew steadily: no leak suspect yet\n");
	query_result_free(&r);
}

/* Returns leaktrap's own peak resident memory in bytes (VmHWM), or 0. */
static uint64_t peak_rss(void)
{
	char line[256];
	unsigned long long kb = 0;
	FILE *st = fopen("/proc/self/status", "re");
	while (st && fgets(line, sizeof(line), st))
		if (sscanf(line, "VmHWM: %llu kB", &kb) == 1)
			break;
	if (st)
		fclose(st);
	return kb * 1024;
}

/* Prints which allocator the session hooked and, while attached, what the
 * target loaded or unloaded since (dlopen, dlclose). */
static void view_allocator(FILE *f, struct session *S)
{
	static struct finder_change ch[16];
	char clean[PATH_MAX];
	const struct finder_result *fr = &S->e.found;
	fprintf(f, "allocator:  %s, %s (%s)\n", fr->family,
		fmt_clean(fr->fn[HK_MALLOC].module, clean, sizeof(clean)), fr->origin);
	int n = S->attached ? finder_changes(&S->e.t, fr, ch, 16) : 0;
	for (int i = 0; i < n; i++) {
		fmt_clean(ch[i].module, clean, sizeof(clean));
		if (ch[i].loaded)
			fprintf(f, "  loaded since attach: %s (%s), defines %s: not hooked; only calls "
				"bound to it (dlsym, its own) reach it, and leaktrap does not see them\n",
				clean, ch[i].family, ch[i].funcs);
		else
			fprintf(f, "  unloaded since attach: %s, with the hooks of %s: their code is "
				"gone, and detach leaves its address range alone\n", clean, ch[i].funcs);
	}
}

void view_status(FILE *f, struct session *S)
{
	char b1[32], b2[32], clean[200];
	struct engine *e = &S->e;
	uint64_t now = session_now(S);
	double secs = (double)(now - e->attach_ns) / 1e9;
	double live = 0;
	struct query q = { .sort = SORT_BYTES };
	struct query_result r;
	if (query_by_stack(e->store, &q, now, &r) == 0) {
		live = r.total_bytes;
		query_result_free(&r);
	}
	fprintf(f, "target:     %d (%s), %s\n", S->pid, fmt_clean(e->comm, clean, sizeof(clean)),
		S->attached ? "running" : e->end[0] ? e->end : "detached");
	if (S->attached && !e->agent)
		fprintf(f, "threads:    %zu\n", e->t.nth);
	if (e->agent)
		fprintf(f, "engine:     agent (events go to a ring in the target; no ptrace while sampling)\n");
	else
		fprintf(f, "engine:     trap (sampled allocations stop their thread once; frees are logged)\n");
	if (e->hk && e->hk->paused)
		fprintf(f, "sampling:   paused (frees of sampled blocks still tracked)\n");
	else if (S->interval)
		fprintf(f, "sampling:   one sample per %s allocated on average (Poisson)\n",
			fmt_size((double)S->interval, true, b1, sizeof(b1)));
	else
		fprintf(f, "sampling:   every allocation recorded\n");
	fprintf(f, "samples:    %llu taken, %llu frees seen, %llu dropped (table full), %.1f/s\n",
		(unsigned long long)e->samples, (unsigned long long)e->frees_seen,
		(unsigned long long)e->dropped, secs > 0 ? (double)e->samples / secs : 0);
	fprintf(f, "live:       %s%s in %zu sampled allocations, %u stacks\n", est(S),
		fmt_size(live, false, b1, sizeof(b1)), store_live_count(e->store),
		store_stack_count(e->store));
	fprintf(f, "attached:   %s%s\n", fmt_age(secs * 1e9, b2, sizeof(b2)),
		S->attached ? "" : " (gathering ended)");
	if (e->agent)
		fprintf(f, "ring:       %llu records read, dropped: %llu (ring full), %llu frees (log full), "
			"%llu (table bucket full), %llu abandoned; %llu execve re-hooked\n",
			(unsigned long long)e->ag.records, (unsigned long long)e->ag.ring_drops,
			(unsigned long long)e->ag.flog_drops, (unsigned long long)e->ag.untracked,
			(unsigned long long)e->ag.skipped, (unsigned long long)e->execs);
	else
		fprintf(f, "stops:      %llu serviced, %.1f us each\n", (unsigned long long)e->stops,
			e->stops ? (double)e->service_ns / 1e3 / (double)e->stops : 0.0);
	struct unwind_counts uc;
	unwind_counts(e->unw, &uc);
	fprintf(f, "unwind:     %llu stacks by the unwind tables' cached rules, %llu by libunwind",
		(unsigned long long)uc.fast, (unsigned long long)uc.full);
	if (uc.checked)
		fprintf(f, "; %llu checked against libunwind, %llu differ, %llu deeper",
			(unsigned long long)uc.checked, (unsigned long long)uc.differ,
			(unsigned long long)uc.deeper);
	fprintf(f, "\n");
	fprintf(f, "memory:     %s held by leaktrap's store; leaktrap peak RSS %s\n",
		fmt_size((double)store_mem_bytes(e->store), false, b1, sizeof(b1)),
		fmt_size((double)peak_rss(), false, b2, sizeof(b2)));
	view_allocator(f, S);
	fprintf(f, "hooks:\n");
	int width = 15, via_runtime = 0, cxx_absent = 0;
	for (int k = 0; k < HK_COUNT; k++)
		if (e->info[k].func && e->info[k].addr && (int)strlen(e->info[k].func) > width)
			width = (int)strlen(e->info[k].func);
	for (int k = 0; k < HK_COUNT; k++) {
		const struct hook_info *h = &e->info[k];
		const char *mod = e->found.fn[k].module;
		if (!h->func)
			continue;
		/* operators that are absent (a C program) or left to malloc and
		 * free (libstdc++'s) take one line at the end, not twenty */
		if (hook_defs[k].cxx && !h->addr) {
			via_runtime += e->found.fn[k].via_malloc;
			cxx_absent++;
			continue;
		}
		fprintf(f, "  %-*s %-11s", width, h->func, h->addr ? h->how : "absent");
		if (h->addr)
			fprintf(f, " at " TADDR_FMT, TADDR_ARG(h->addr));
		if (h->addr && strcmp(mod, e->found.fn[HK_MALLOC].module))
			fprintf(f, " in %s", fmt_clean(mod, clean, sizeof(clean)));
		if (h->why)
			fprintf(f, " (%s)", fmt_clean(h->why, clean, sizeof(clean)));
		fprintf(f, "\n");
	}
	for (int k = 0; via_runtime && k < HK_COUNT; k++)
		if (e->found.fn[k].via_malloc) {
			fprintf(f, "  %d operator new/delete variant%s: the C++ runtime's, in %s: "
				"not hooked, they call malloc and free\n", via_runtime,
				via_runtime == 1 ? "" : "s",
				fmt_clean(e->found.fn[k].module, clean, sizeof(clean)));
			break;
		}
	if (cxx_absent > via_runtime)
		fprintf(f, "  %d operator new/delete variant%s: not defined in the process\n",
			cxx_absent - via_runtime, cxx_absent - via_runtime == 1 ? "" : "s");
}
