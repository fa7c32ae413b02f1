/* main: the command line: `leaktrap report -p PID ...`. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"
#include "parse.h"
#include "query.h"
#include "report.h"
#include "symbols.h"

#define VERSION "0.1"

static const char usage[] =
"usage: leaktrap report [OPTIONS] -p PID\n"
"\n"
"Attaches to a running process, hooks its allocator, samples allocations with\n"
"their call stacks for a while, prints the stacks that hold the most live\n"
"memory, and detaches, leaving the process exactly as it was.\n"
"\n"
"options:\n"
"  -p, --pid PID             the process to examine\n"
"  --duration DUR            how long to sample (default 10s; ms, s, m, h)\n"
"  --sample-interval SIZE    mean bytes between samples (default 512k; k, m, g)\n"
"  --every                   record every allocation: exact, slower\n"
"  --min-age DUR             only allocations at least this old at the end\n"
"  --top N                   at most N stacks (default 10 for text, all for json; 0 = all)\n"
"  --format text|json        report format (default text)\n"
"  -o, --output FILE         write the report to FILE instead of stdout\n"
"  -q, --quiet               no messages on stderr, only errors\n"
"  -h, --help                this text\n"
"  --version                 leaktrap's version\n"
"\n"
"Figures are unbiased estimates from Poisson sampling by bytes, except with --every.\n";

/* Prints one line "leaktrap: ..." on stderr and exits with status. */
__attribute__((noreturn, format(printf, 2, 3)))
static void die(int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("leaktrap: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(status);
}

struct options {
	pid_t pid;
	uint64_t duration_ns, interval, min_age_ns, top;
	bool top_set, json, quiet;
	const char *output;
};

/* Parses argv into o; exits with status 2 and one line on bad usage. */
static void parse_options(int argc, char **argv, struct options *o)
{
	enum { O_DURATION = 256, O_INTERVAL, O_EVERY, O_MIN_AGE, O_TOP, O_FORMAT, O_VERSION };
	static const struct option longopts[] = {
		{ "pid", required_argument, 0, 'p' },
		{ "duration", required_argument, 0, O_DURATION },
		{ "sample-interval", required_argument, 0, O_INTERVAL },
		{ "every", no_argument, 0, O_EVERY },
		{ "min-age", required_argument, 0, O_MIN_AGE },
		{ "top", required_argument, 0, O_TOP },
		{ "format", required_argument, 0, O_FORMAT },
		{ "output", required_argument, 0, 'o' },
		{ "quiet", no_argument, 0, 'q' },
		{ "help", no_argument, 0, 'h' },
		{ "version", no_argument, 0, O_VERSION },
		{ 0, 0, 0, 0 },
	};
	*o = (struct options){ .duration_ns = 10000000000ULL, .interval = 512 * 1024 };
	bool every = false, interval_set = false;
	uint64_t v;
	if (argc > 1 && !strcmp(argv[1], "report")) {
		argv++;
		argc--;
	} else if (argc > 1 && argv[1][0] != '-') {
		die(2, "unknown command '%s': see 'leaktrap --help'", argv[1]);
	}
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, ":p:o:qh", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (parse_uint(optarg, 0x7fffffff, &v) < 0 || v == 0)
				die(2, "invalid PID '%s': give a positive process ID", optarg);
			o->pid = (pid_t)v;
			break;
		case O_DURATION:
			if (parse_duration(optarg, &o->duration_ns) < 0 || o->duration_ns == 0)
				die(2, "invalid duration '%s': use a positive number with ms, s, m or h, e.g. 10s", optarg);
			break;
		case O_INTERVAL:
			if (parse_size(optarg, &o->interval) < 0 || o->interval == 0)
				die(2, "invalid sample interval '%s': use a positive size with k, m or g, e.g. 512k", optarg);
			interval_set = true;
			break;
		case O_EVERY:
			every = true;
			break;
		case O_MIN_AGE:
			if (parse_duration(optarg, &o->min_age_ns) < 0)
				die(2, "invalid --min-age '%s': use a number with ms, s, m or h, e.g. 5s", optarg);
			break;
		case O_TOP:
			if (parse_uint(optarg, 1000000000, &o->top) < 0)
				die(2, "invalid --top '%s': give a whole number (0 = all)", optarg);
			o->top_set = true;
			break;
		case O_FORMAT:
			if (!strcmp(optarg, "json"))
				o->json = true;
			else if (strcmp(optarg, "text"))
				die(2, "unknown format '%s': use text or json", optarg);
			break;
		case 'o':
			o->output = optarg;
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'h':
			fputs(usage, stdout);
			exit(0);
		case O_VERSION:
			printf("leaktrap %s\n", VERSION);
			exit(0);
		case ':':
			die(2, "option '%s' needs a value: see 'leaktrap --help'", argv[optind - 1]);
		default:
			die(2, "unknown option '%s': see 'leaktrap --help'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		die(2, "unexpected argument '%s': see 'leaktrap --help'", argv[optind]);
	if (every && interval_set)
		die(2, "--every and --sample-interval contradict each other: give one");
	if (every)
		o->interval = 0;
	if (!o->pid)
		die(2, "no process given: use -p PID (see 'leaktrap --help')");
	if (!o->top_set)
		o->top = o->json ? 0 : 10;
}

/* Crash handler: leave the target clean, then die of the same signal. */
static void on_crash(int sig)
{
	engine_emergency();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Prints a human size into buf. */
static const char *human(double b, char *buf, size_t len)
{
	const char *u[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	int i = 0;
	while (b >= 1024 && i < 4)
		b /= 1024, i++;
	snprintf(buf, len, i ? "%.1f %s" : "%.0f %s", b, u[i]);
	return buf;
}

/* Sums the estimated live bytes of the store (for the progress line). */
static void add_bytes(const struct live *l, void *arg) { *(double *)arg += l->weight_bytes; }

int main(int argc, char **argv)
{
	struct options o;
	char err[512];
	parse_options(argc, argv, &o);

	FILE *out = stdout;
	if (o.output && !(out = fopen(o.output, "we")))
		die(1, "cannot write the report to %s: %s", o.output, strerror(errno));
	int sigfd = engine_signals();
	if (sigfd < 0)
		die(1, "cannot set up signal handling: %s", strerror(-sigfd));
	int crash_sigs[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT };
	for (size_t i = 0; i < sizeof(crash_sigs) / sizeof(crash_sigs[0]); i++)
		signal(crash_sigs[i], on_crash);

	static struct engine e;
	if (engine_attach(&e, o.pid, sigfd, o.interval, err, sizeof(err)) < 0)
		die(1, "%s", err);
	struct symbolizer *sym = sym_new(o.pid);
	if (!o.quiet) {
		fprintf(stderr, "leaktrap: attached to %d (%s), %zu threads, %s; hooks active:",
			o.pid, e.comm, e.t.nth, o.interval ? "sampling" : "recording every allocation");
		for (int k = 0; k < HK_COUNT; k++)
			if (e.info[k].addr)
				fprintf(stderr, " %s %s", e.info[k].func, e.info[k].how);
		fprintf(stderr, "\n");
	}
	bool progress = !o.quiet && isatty(2);
	uint64_t deadline = e.attach_ns + o.duration_ns;
	int why;
	do {
		uint64_t step = now_ns() + 1000000000ULL;
		why = engine_run(&e, step < deadline ? step : deadline);
		if (!e.t.gone)
			sym_refresh(sym);	/* modules loaded since, while they can be read */
		if (progress) {
			double live = 0;
			char hb[32];
			store_foreach_live(e.store, add_bytes, &live);
			fprintf(stderr, "\rleaktrap: %.0fs of %.0fs, %llu samples, ~%s live (est.)\033[K",
				(double)(now_ns() - e.attach_ns) / 1e9, (double)o.duration_ns / 1e9,
				(unsigned long long)e.samples, human(live, hb, sizeof(hb)));
		}
	} while (why == 0 && now_ns() < deadline);
	if (progress)
		fprintf(stderr, "\r\033[K");
	uint64_t end_ns = now_ns();
	int detach_rc = engine_detach(&e, err, sizeof(err));
	if (detach_rc < 0 || err[0])
		fprintf(stderr, "leaktrap: %s\n", err);
	else if (!o.quiet)
		fprintf(stderr, "leaktrap: detached%s%s (pauses: attach %.1f ms, detach %.1f ms; "
			"%llu stops serviced in %.1f us each)\n",
			why == 1 ? " on " : "", why == 1 ? strsignal(e.stop_signal) : "",
			e.pause_attach_ms, e.pause_detach_ms, (unsigned long long)e.stops,
			e.stops ? (double)e.service_ns / 1e3 / (double)e.stops : 0.0);
	if (e.end[0] && !o.quiet)
		fprintf(stderr, "leaktrap: the target %s during the session\n", e.end);

	struct query q = { .min_age_ns = o.min_age_ns, .top = (unsigned)o.top, .sort = SORT_BYTES };
	struct query_result r;
	if (query_by_stack(e.store, &q, end_ns, &r) < 0)
		die(1, "out of memory");
	struct report_meta m = {
		.pid = o.pid, .comm = e.comm, .engine = "trap", .sample_interval = o.interval,
		.duration_s = (double)(end_ns - e.attach_ns) / 1e9, .samples = e.samples,
		.frees_seen = e.frees_seen, .dropped = e.dropped,
		.allocator = e.found.fn[HK_MALLOC].module, .hooks = e.info, .nhooks = HK_COUNT,
		.target_end = e.end[0] ? e.end : NULL, .query = &q,
	};
	int rc = o.json ? report_json(out, &m, &r, e.store, sym) : report_text(out, &m, &r, e.store, sym);
	if (rc == 0 && fflush(out) != 0)
		rc = -errno;
	if (rc < 0)
		die(1, "cannot write the report to %s: %s", o.output ? o.output : "standard output",
		    strerror(-rc));
	query_result_free(&r);
	sym_free(sym);
	store_free(e.store);
	return detach_rc < 0 ? 1 : 0;
}
