/*
 * command: the command interpreter shared by the shell, command files, -ex
 * and reports.
 *
 * A command is a row of the table below: its name, usage, help and handler,
 * and the words completion offers after it. Handlers get the line split into
 * words (quotes group, # starts a comment) and return 0 or, through
 * cmd_fail, 1 with one line on stderr naming what was wrong.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "command.h"
#include "export.h"
#include "fmt.h"
#include "parse.h"
#include "report.h"
#include "view.h"

#define MAX_WORDS 64

struct command {
	const char *name;
	const char *usage;
	const char *help;
	int (*run)(struct interp *I, int argc, char **argv);
	const char *const *args;   /* completion after the name */
	bool attached;             /* needs the target hooked */
};

static const struct command *find_command(const char *name);

/* Prints "WHERE: message" on stderr and returns 1 (the failed status). */
__attribute__((format(printf, 2, 3)))
static int cmd_fail(struct interp *I, const char *fmt, ...)
{
	va_list ap;
	fflush(I->S->out);
	fprintf(stderr, "%s: ", I->where ? I->where : "leaktrap");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

/* Lets the target run until deadline_ns, servicing it. Returns 0 at the
 * deadline or when the target ended, 1 when interrupted: Ctrl-C in the
 * shell (the session goes on), any other signal ends the session. */
static int let_run(struct interp *I, uint64_t deadline_ns)
{
	struct session *S = I->S;
	int why = session_wait(S, deadline_ns);
	if (why != 1)
		return 0;
	if (I->interactive && S->e.stop_signal == SIGINT) {
		S->e.stop_signal = 0;
		fprintf(S->out, "\n(interrupted)\n");
		return 1;
	}
	I->stopped = true;
	return 1;
}

/* Splits line into words in place: blanks separate, quotes group, and # at
 * the start of a word ends the line. Returns the number of words or -1 for
 * an unterminated quote. */
static int split_words(char *line, char **w, int max)
{
	int n = 0;
	char *p = line;
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
			p++;
		if (!*p || *p == '#')
			return n;
		if (n == max)
			return n;
		char *out = p;
		w[n++] = out;
		while (*p && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
			if (*p == '"' || *p == '\'') {
				char q = *p++;
				while (*p && *p != q)
					*out++ = *p++;
				if (!*p)
					return -1;
				p++;
			} else {
				*out++ = *p++;
			}
		}
		if (*p)
			p++;
		*out = 0;
	}
}

/* Parses a duration argument of a command into *ns; returns 0 or 1 (reported). */
static int arg_duration(struct interp *I, const char *what, const char *s, uint64_t *ns)
{
	if (!s)
		return cmd_fail(I, "%s needs a duration, e.g. 5s", what);
	if (parse_duration(s, ns) < 0)
		return cmd_fail(I, "invalid duration '%s' for %s: use a number with ms, s, m or h, e.g. 5s", s, what);
	return 0;
}

static const char *const by_words[] = { "stack", "site", "func", "module", "thread", "size", NULL };
static const char *const live_words[] = { "by", "older", "younger", "min-size", "top", "sort", NULL };
static const char *const sort_words[] = { "bytes", "count", "age", NULL };

/* Parses `[by K] [older D] [younger D] [min-size N] [top N] [sort S]` from
 * argv[0..argc) into q; by_ok says whether `by` is allowed. Returns 0 or 1. */
static int parse_filters(struct interp *I, int argc, char **argv, struct query *q, bool by_ok)
{
	for (int i = 0; i < argc; i += 2) {
		const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		uint64_t n;
		if (strcmp(k, "by") && strcmp(k, "older") && strcmp(k, "younger") &&
		    strcmp(k, "min-size") && strcmp(k, "top") && strcmp(k, "sort"))
			return cmd_fail(I, "unknown word '%s': expected %solder, younger, min-size, top or sort",
					k, by_ok ? "by, " : "");
		if (!v)
			return cmd_fail(I, "'%s' needs a value (see 'help live')", k);
		if (!strcmp(k, "by")) {
			int b = 0;
			while (by_words[b] && strcmp(by_words[b], v))
				b++;
			if (!by_ok)
				return cmd_fail(I, "'by' is not allowed here: this writes stacks");
			if (!by_words[b])
				return cmd_fail(I, "unknown grouping '%s': use stack, site, func, module, thread or size", v);
			q->by = (enum query_by)b;
		} else if (!strcmp(k, "older")) {
			if (arg_duration(I, "older", v, &q->min_age_ns))
				return 1;
		} else if (!strcmp(k, "younger")) {
			if (arg_duration(I, "younger", v, &q->max_age_ns))
				return 1;
		} else if (!strcmp(k, "min-size")) {
			if (parse_size(v, &n) < 0)
				return cmd_fail(I, "invalid size '%s' for min-size: use a number with k, m or g, e.g. 4k", v);
			q->min_size = n;
		} else if (!strcmp(k, "top")) {
			if (parse_uint(v, 1000000000, &n) < 0)
				return cmd_fail(I, "invalid count '%s' for top: give a whole number (0 = all)", v);
			q->top = (unsigned)n;
		} else {
			if (!strcmp(v, "bytes"))
				q->sort = SORT_BYTES;
			else if (!strcmp(v, "count"))
				q->sort = SORT_COUNT;
			else if (!strcmp(v, "age"))
				q->sort = SORT_AGE;
			else
				return cmd_fail(I, "unknown sort '%s': use bytes, count or age", v);
		}
	}
	if (q->max_age_ns && q->max_age_ns < q->min_age_ns)
		return cmd_fail(I, "'younger' is less than 'older': no allocation can pass both");
	return 0;
}

/* Points q at the key functions its grouping needs. */
static void query_keys(struct session *S, struct query *q)
{
	q->keys_ctx = S->keys;
	q->stack_keys = q->by == BY_SITE ? keys_site : q->by == BY_FUNC ? keys_func : keys_module;
}

/* `live`: prints the live set grouped and filtered; returns 0 or 1. */
static int cmd_live(struct interp *I, int argc, char **argv)
{
	struct query q = { .sort = SORT_BYTES, .top = I->default_top };
	struct query_result r;
	if (parse_filters(I, argc - 1, argv + 1, &q, true))
		return 1;
	query_keys(I->S, &q);
	if (query_live(I->S->e.store, &q, session_now(I->S), &r) < 0)
		return cmd_fail(I, "out of memory");
	view_live(I->S->out, I->S, &q, &r);
	query_result_free(&r);
	return 0;
}

/* `age`: prints the histogram of live bytes by age; returns 0 or 1. */
static int cmd_age(struct interp *I, int argc, char **argv)
{
	struct query q = { .sort = SORT_BYTES };
	bool by_stack = false;
	if (argc > 2 && !strcmp(argv[1], "by")) {
		if (strcmp(argv[2], "stack"))
			return cmd_fail(I, "age groups only by stack: 'age' or 'age by stack'");
		by_stack = true;
		argc -= 2;
		argv += 2;
	}
	if (parse_filters(I, argc - 1, argv + 1, &q, false))
		return 1;
	view_age(I->S->out, I->S, &q, by_stack);
	return 0;
}

/* `stack ID`: prints every frame of one stack; returns 0 or 1. */
static int cmd_stack(struct interp *I, int argc, char **argv)
{
	uint64_t id;
	if (argc != 2)
		return cmd_fail(I, "usage: stack ID (the numbers 'live' shows)");
	if (parse_uint(argv[1], UINT32_MAX, &id) < 0 || view_stack(I->S->out, I->S, (uint32_t)id) < 0)
		return cmd_fail(I, "no stack '%s': 'live' shows the stack numbers (1 to %u)", argv[1],
				store_stack_count(I->S->e.store));
	return 0;
}

/* `snapshot [NAME]`: remembers the live set per stack; returns 0 or 1. */
static int cmd_snapshot(struct interp *I, int argc, char **argv)
{
	struct session *S = I->S;
	char name[32];
	if (argc > 2)
		return cmd_fail(I, "usage: snapshot [NAME]");
	if (argc == 2) {
		if (strlen(argv[1]) >= sizeof(name) || !strcmp(argv[1], "now"))
			return cmd_fail(I, "invalid snapshot name '%s': use up to 31 characters, not 'now'", argv[1]);
		snprintf(name, sizeof(name), "%s", argv[1]);
	} else {
		do
			snprintf(name, sizeof(name), "s%u", ++S->next_snap_no);
		while (session_snapshot(S, name));
	}
	struct snapshot *slot = (struct snapshot *)session_snapshot(S, name);
	if (!slot && S->nnamed == MAX_NAMED_SNAPS)
		return cmd_fail(I, "%d snapshots already: reuse a name to replace one", MAX_NAMED_SNAPS);
	struct snapshot snap;
	if (snapshot_take(S->e.store, session_now(S), AUTO_SNAP_PERIOD_NS, &snap) < 0)
		return cmd_fail(I, "out of memory");
	snprintf(snap.name, sizeof(snap.name), "%s", name);
	if (slot)
		snapshot_free(slot);
	else
		slot = &S->named[S->nnamed++];
	*slot = snap;
	char b[32];
	fprintf(S->out, "snapshot %s: %s%s live in %zu stacks\n", name, S->interval ? "~" : "",
		fmt_size(snap.total_bytes, false, b, sizeof(b)), snap.n);
	return 0;
}

/* `snapshots`: lists the named snapshots; returns 0 or 1. */
static int cmd_snapshots(struct interp *I, int argc, char **argv)
{
	if (argc != 1)
		return cmd_fail(I, "usage: snapshots");
	view_snapshots(I->S->out, I->S);
	return 0;
}

/* `diff A [B]`: prints the per-stack changes between two snapshots; returns 0 or 1. */
static int cmd_diff(struct interp *I, int argc, char **argv)
{
	struct session *S = I->S;
	struct query q = { .top = I->default_top };
	int words = argc > 2 && strcmp(argv[2], "top") ? 3 : 2;
	if (argc < 2)
		return cmd_fail(I, "usage: diff A [B] [top N] (B defaults to now)");
	if (parse_filters(I, argc - words, argv + words, &q, false))
		return 1;
	if (q.min_age_ns || q.max_age_ns || q.min_size || q.sort != SORT_BYTES)
		return cmd_fail(I, "diff takes only 'top N' after the snapshots");
	const struct snapshot *a = session_snapshot(S, argv[1]), *b = NULL;
	struct snapshot now;
	const char *bname = words == 3 ? argv[2] : "now";
	if (!a)
		return cmd_fail(I, "no snapshot '%s': 'snapshots' lists them", argv[1]);
	if (strcmp(bname, "now")) {
		if (!(b = session_snapshot(S, bname)))
			return cmd_fail(I, "no snapshot '%s': 'snapshots' lists them", bname);
	} else {
		if (snapshot_take(S->e.store, session_now(S), AUTO_SNAP_PERIOD_NS, &now) < 0)
			return cmd_fail(I, "out of memory");
		b = &now;
	}
	view_diff(S->out, S, a, b, argv[1], bname, q.top);
	if (b == &now)
		snapshot_free(&now);
	return 0;
}

/* `leaks`: prints the leak suspects of the automatic snapshots; returns 0 or 1. */
static int cmd_leaks(struct interp *I, int argc, char **argv)
{
	struct session *S = I->S;
	uint64_t window = 0;
	struct query q = { .top = I->default_top };
	int i = 1;
	if (argc > 1 && !strcmp(argv[1], "window")) {
		if (arg_duration(I, "window", argc > 2 ? argv[2] : NULL, &window))
			return 1;
		i = 3;
	}
	if (parse_filters(I, argc - i, argv + i, &q, false))
		return 1;
	const struct snapshot *series[AUTO_SNAP_KEEP];
	size_t n = session_autos(S, window, series);
	if (n < 3)
		return cmd_fail(I, "leaks needs 3 automatic snapshots in the window and has %zu: "
				"let the target run ('sleep %.0fs') and ask again", n,
				(double)(3 - n) * AUTO_SNAP_PERIOD_NS / 1e9 + 1);
	struct leak_row *rows;
	long nr = snapshot_leaks(series, n, &rows);
	if (nr < 0)
		return cmd_fail(I, "out of memory");
	view_leaks(S->out, S, series, n, rows, (size_t)nr, q.top);
	free(rows);
	return 0;
}

/* `status`: prints the session's state; returns 0. */
static int cmd_status(struct interp *I, int argc, char **argv)
{
	view_status(I->S->out, I->S);
	return 0;
}

/* `sleep DUR`: lets the target run while sampling; returns 0 or 1. */
static int cmd_sleep(struct interp *I, int argc, char **argv)
{
	uint64_t ns;
	if (argc != 2)
		return cmd_fail(I, "usage: sleep DUR, e.g. sleep 5s");
	if (arg_duration(I, "sleep", argv[1], &ns))
		return 1;
	let_run(I, now_ns() + ns);
	return 0;
}

/* `watch DUR CMD...`: reruns a command until interrupted; returns 0 or 1. */
static int cmd_watch(struct interp *I, int argc, char **argv)
{
	uint64_t ns;
	char line[1024] = "";
	if (argc < 3)
		return cmd_fail(I, "usage: watch DUR COMMAND..., e.g. watch 2s live top 5");
	if (arg_duration(I, "watch", argv[1], &ns) || ns == 0)
		return ns ? 1 : cmd_fail(I, "watch needs a period above zero");
	const struct command *c = find_command(argv[2]);
	if (!c)
		return cmd_fail(I, "unknown command '%s' to watch: 'help' lists them", argv[2]);
	if (c->run == cmd_watch || c->run == cmd_sleep)
		return cmd_fail(I, "watch cannot run '%s'", argv[2]);
	for (int i = 2; i < argc; i++) {
		size_t len = strlen(line);
		snprintf(line + len, sizeof(line) - len, "%s\"%s\"", i > 2 ? " " : "", argv[i]);
	}
	for (unsigned round = 1;; round++) {
		uint64_t next = now_ns() + ns;
		fprintf(I->S->out, "--- every %s: %s (round %u%s) ---\n", argv[1], argv[2], round,
			I->interactive ? ", Ctrl-C stops" : "");
		if (interp_exec(I, line))
			return 1;
		fflush(I->S->out);
		if (!I->S->attached)
			return 0;	/* the target ended: nothing new will come */
		if (let_run(I, next))
			return 0;
	}
}

/* `sample ...`: changes the sampling interval, or pauses and resumes it; returns 0 or 1. */
static int cmd_sample(struct interp *I, int argc, char **argv)
{
	struct session *S = I->S;
	struct hooks *hk = S->e.hk;
	uint64_t n;
	if (argc == 3 && !strcmp(argv[1], "interval")) {
		if (parse_size(argv[2], &n) < 0 || n == 0)
			return cmd_fail(I, "invalid interval '%s': use a positive size with k, m or g, e.g. 512k", argv[2]);
	} else if (argc == 2 && !strcmp(argv[1], "every")) {
		n = 0;
	} else if (argc == 2 && (!strcmp(argv[1], "pause") || !strcmp(argv[1], "resume"))) {
		hk->paused = argv[1][0] == 'p';
		if (hook_reset_countdowns(&S->e.t, hk) < 0)
			return cmd_fail(I, "cannot write to the target: %s", strerror(errno));
		fprintf(S->out, "sampling %s\n", hk->paused ? "paused (frees still tracked)" : "resumed");
		return 0;
	} else {
		return cmd_fail(I, "usage: sample interval SIZE | sample every | sample pause | sample resume");
	}
	hk->interval = n;
	S->interval = n;
	if (hook_reset_countdowns(&S->e.t, hk) < 0)
		return cmd_fail(I, "cannot write to the target: %s", strerror(errno));
	char b[32];
	if (n)
		fprintf(S->out, "sampling one per %s allocated on average\n", fmt_size((double)n, true, b, sizeof(b)));
	else
		fprintf(S->out, "recording every allocation\n");
	return 0;
}

/* `pause` and `resume`: `sample pause` and `sample resume`; returns 0 or 1. */
static int cmd_pause(struct interp *I, int argc, char **argv)
{
	char *w[] = { "sample", argv[0] };
	if (argc != 1)
		return cmd_fail(I, "usage: %s", argv[0]);
	return cmd_sample(I, 2, w);
}

static const char *const format_words[] = { "text", "json", "folded", "pprof", NULL };

/* `export FORMAT FILE`: writes the live set by stack for other tools; returns 0 or 1. */
static int cmd_export(struct interp *I, int argc, char **argv)
{
	struct session *S = I->S;
	struct query q = { .sort = SORT_BYTES };
	struct query_result r;
	struct report_meta m;
	if (argc < 3)
		return cmd_fail(I, "usage: export text|json|folded|pprof FILE [live filters]");
	int fmt = 0;
	while (format_words[fmt] && strcmp(format_words[fmt], argv[1]))
		fmt++;
	if (!format_words[fmt])
		return cmd_fail(I, "unknown format '%s': use text, json, folded or pprof", argv[1]);
	if (parse_filters(I, argc - 3, argv + 3, &q, false))
		return 1;
	FILE *f = !strcmp(argv[2], "-") ? S->out : fopen(argv[2], "we");
	if (!f)
		return cmd_fail(I, "cannot write %s: %s", argv[2], strerror(errno));
	if (query_by_stack(S->e.store, &q, session_now(S), &r) < 0) {
		if (f != S->out)
			fclose(f);
		return cmd_fail(I, "out of memory");
	}
	session_meta(S, &q, &m);
	int rc = fmt == 0 ? report_text(f, &m, &r, S->e.store, S->sym)
	       : fmt == 1 ? report_json(f, &m, &r, S->e.store, S->sym)
	       : fmt == 2 ? export_folded(f, &m, &r, S->e.store, S->sym)
	       : export_pprof(f, &m, &r, S->e.store, S->sym);
	if (f != S->out && fclose(f) != 0 && rc == 0)
		rc = -errno;
	size_t nstacks = r.ngroups;
	query_result_free(&r);
	if (rc < 0)
		return cmd_fail(I, "cannot write %s: %s", argv[2], strerror(-rc));
	if (f != S->out)
		fprintf(S->out, "wrote %zu stack%s as %s to %s\n", nstacks, nstacks == 1 ? "" : "s",
			argv[1], argv[2]);
	return 0;
}

/* `detach`: restores the target and lets it go, keeping the data; returns 0 or 1. */
static int cmd_detach(struct interp *I, int argc, char **argv)
{
	if (argc != 1)
		return cmd_fail(I, "usage: detach");
	if (!I->S->attached)
		return cmd_fail(I, "not attached: the target %s", I->S->e.end[0] ? I->S->e.end : "was already detached");
	int rc = session_detach(I->S);
	fprintf(I->S->out, "detached; what was gathered stays for queries ('quit' to leave)\n");
	return rc < 0;
}

/* `quit`: ends the interpreter (the caller detaches); returns 0. */
static int cmd_quit(struct interp *I, int argc, char **argv)
{
	I->done = true;
	return 0;
}

static const char *const on_error_words[] = { "on-error", NULL };
static const char *const on_error_values[] = { "continue", "stop", NULL };

/* `set on-error continue|stop`: whether errors stop a command file; returns 0 or 1. */
static int cmd_set(struct interp *I, int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "on-error") && !strcmp(argv[2], "continue"))
		I->on_error_continue = true;
	else if (argc == 3 && !strcmp(argv[1], "on-error") && !strcmp(argv[2], "stop"))
		I->on_error_continue = false;
	else
		return cmd_fail(I, "usage: set on-error continue|stop");
	return 0;
}

static int cmd_help(struct interp *I, int argc, char **argv);

static const char *const sample_words[] = { "interval", "every", "pause", "resume", NULL };
static const char *const export_words[] = { "text", "json", "folded", "pprof", NULL };
static const char *const age_words[] = { "by", NULL };
static const char *const leaks_words[] = { "window", "top", NULL };
static const char *const no_words[] = { NULL };
static const char *const command_words[];

static const struct command commands[] = {
	{ "status", "status", "the target, its threads, the engine, sampling, samples taken, the live\n"
	  "estimate, how each allocator function was hooked and leaktrap's own memory.",
	  cmd_status, no_words, false },
	{ "live", "live [by stack|site|func|module|thread|size] [older DUR] [younger DUR]\n"
	  "     [min-size N] [top N] [sort bytes|count|age]",
	  "the live sampled set, grouped and filtered. 'site' is the first frame outside the\n"
	  "allocator; 'func' counts a function wherever it appears in a stack (inclusive, like\n"
	  "pprof's cumulative view); 'older 5s' keeps allocations at least 5 s old.",
	  cmd_live, live_words, false },
	{ "age", "age [by stack] [older DUR] [younger DUR] [min-size N]",
	  "a histogram of live bytes by age in decades (10 ms .. 1000 s), overall or for\n"
	  "each of the top stacks.", cmd_age, age_words, false },
	{ "stack", "stack ID", "one stack: every frame with address, function+offset, module,\n"
	  "file:line and inlined frames.", cmd_stack, no_words, false },
	{ "snapshot", "snapshot [NAME]", "remembers the live set per stack now (unnamed: s1, s2 ...),\n"
	  "for 'diff'.", cmd_snapshot, no_words, false },
	{ "snapshots", "snapshots", "lists the snapshots taken.", cmd_snapshots, no_words, false },
	{ "diff", "diff A [B] [top N]", "per stack, the change in live bytes and count from snapshot A\n"
	  "to B (default: now), marked grown, shrunk, new or gone, largest growth first.",
	  cmd_diff, no_words, false },
	{ "leaks", "leaks [window DUR] [top N]", "leak suspects: stacks whose old live bytes grow steadily\n"
	  "across the snapshots leaktrap takes every 2 s on its own, with why each is suspected.",
	  cmd_leaks, leaks_words, false },
	{ "watch", "watch DUR COMMAND...", "runs COMMAND every DUR until Ctrl-C (which returns to the\n"
	  "prompt and stays attached), e.g. 'watch 2s live top 5'.", cmd_watch, command_words, false },
	{ "sample", "sample interval SIZE | sample every | sample pause | sample resume",
	  "changes how allocations are sampled: a mean of SIZE bytes between samples, every\n"
	  "allocation, or none for a while (frees of sampled blocks are still tracked).",
	  cmd_sample, sample_words, true },
	{ "pause", "pause", "stops taking new samples (same as 'sample pause').", cmd_pause, no_words, true },
	{ "resume", "resume", "takes samples again (same as 'sample resume').", cmd_pause, no_words, true },
	{ "sleep", "sleep DUR", "lets the target run for DUR while leaktrap samples (for scripts).",
	  cmd_sleep, no_words, false },
	{ "export", "export text|json|folded|pprof FILE [older DUR] [younger DUR] [min-size N]\n"
	  "       [top N] [sort bytes|count|age]",
	  "writes the live set by stack to FILE ('-': the output) for other tools: json (schema in\n"
	  "the README), folded stacks (flamegraph.pl, inferno, speedscope), pprof (go tool pprof).",
	  cmd_export, export_words, false },
	{ "set", "set on-error continue|stop", "in command files: whether an error stops the file\n"
	  "(the default) or the next command runs.", cmd_set, on_error_words, false },
	{ "detach", "detach", "restores the target and lets it go; what was gathered stays for queries.",
	  cmd_detach, no_words, false },
	{ "quit", "quit", "detaches (if attached) and leaves leaktrap; Ctrl-D does the same.",
	  cmd_quit, no_words, false },
	{ "help", "help [COMMAND]", "lists the commands, or tells what one does.", cmd_help,
	  command_words, false },
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const char *const command_words[] = {
	"status", "live", "age", "stack", "snapshot", "snapshots", "diff", "leaks", "watch",
	"sample", "pause", "resume", "sleep", "export", "set", "detach", "quit", "help", NULL
};

/* Returns the command called name, or NULL. */
static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	if (!strcmp(name, "exit") || !strcmp(name, "q"))
		return find_command("quit");
	return NULL;
}

/* `help [CMD]`: lists the commands or explains one; returns 0 or 1. */
static int cmd_help(struct interp *I, int argc, char **argv)
{
	FILE *f = I->S->out;
	if (argc == 1) {
		fprintf(f, "commands ('help COMMAND' for more):\n");
		for (size_t i = 0; i < NCOMMANDS; i++) {
			const char *nl = strchr(commands[i].help, '\n');
			int len = nl ? (int)(nl - commands[i].help) : (int)strlen(commands[i].help);
			fprintf(f, "  %-10s %.*s%s\n", commands[i].name, len, commands[i].help, nl ? " ..." : "");
		}
		fprintf(f, "durations take ms, s, m, h; sizes take k, m, g. Figures marked ~ are "
			"estimates from sampling.\n");
		return 0;
	}
	const struct command *c = find_command(argv[1]);
	if (!c)
		return cmd_fail(I, "no command '%s': 'help' lists them", argv[1]);
	fprintf(f, "usage: %s\n%s\n", c->usage, c->help);
	return 0;
}

int interp_exec(struct interp *I, const char *text)
{
	char buf[4096], *w[MAX_WORDS];
	if (strlen(text) >= sizeof(buf))
		return cmd_fail(I, "command line too long (over %zu characters)", sizeof(buf) - 1);
	strcpy(buf, text);
	int n = split_words(buf, w, MAX_WORDS);
	if (n < 0)
		return cmd_fail(I, "unterminated quote");
	if (n == 0)
		return 0;
	const struct command *c = find_command(w[0]);
	if (!c)
		return cmd_fail(I, "unknown command '%s': 'help' lists the commands", w[0]);
	if (c->attached && !I->S->attached)
		return cmd_fail(I, "'%s' needs the target attached, and the target %s", w[0],
				I->S->e.end[0] ? I->S->e.end : "was detached");
	int rc = c->run(I, n, w);
	fflush(I->S->out);
	return rc;
}

const char *interp_command_name(size_t i)
{
	return i < NCOMMANDS ? commands[i].name : NULL;
}

const char *const *interp_completions(char **words, int n)
{
	if (n < 1)
		return command_words;
	const struct command *c = find_command(words[0]);
	if (!c)
		return NULL;
	if (c->run == cmd_watch && n >= 2)
		return n == 2 ? command_words : interp_completions(words + 2, n - 2);
	const char *last = words[n - 1];
	if (!strcmp(last, "by"))
		return by_words;
	if (!strcmp(last, "sort"))
		return sort_words;
	if (c->run == cmd_live || c->run == cmd_age)
		return live_words;
	if (c->run == cmd_export)	/* export FORMAT FILE filters... */
		return n == 1 ? export_words : n >= 3 ? live_words + 1 : NULL;
	if (c->run == cmd_set)
		return n == 1 ? on_error_words : n == 2 ? on_error_values : NULL;
	return n == 1 ? c->args : NULL;
}
