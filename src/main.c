/* main: the command line: the shell, command files, -ex, reports, -- PROGRAM. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "command.h"
#include "export.h"
#include "fmt.h"
#include "launch.h"
#include "parse.h"
#include "script.h"
#include "shell.h"

#define VERSION "0.2"

static const char usage[] =
"usage: leaktrap [OPTIONS] -p PID                 interactive shell attached to PID\n"
"       leaktrap [OPTIONS] -- PROGRAM [ARGS...]   start PROGRAM hooked from its first instruction\n"
"       leaktrap [OPTIONS] -p PID -x FILE         run the commands in FILE ('-': stdin), detach, exit\n"
"       leaktrap [OPTIONS] -p PID -ex 'CMD' ...   run the given commands in order, detach, exit\n"
"       leaktrap report [OPTIONS] (-p PID | -- PROGRAM [ARGS...])\n"
"                                                 sample for --duration, print one report, detach\n"
"\n"
"Attaches to a running process, hooks its allocator, samples allocations with\n"
"their call stacks and answers what is live, by stack or by age, what grew, and\n"
"where the leak is; detaching leaves the process exactly as it was.\n"
"\n"
"options:\n"
"  -p, --pid PID             the process to examine\n"
"  -x FILE                   run the commands in FILE (repeatable, in order with -ex)\n"
"  -ex CMD                   run CMD (repeatable); 'help' inside lists the commands\n"
"  --duration DUR            report: how long to sample (default 10s with -p, until\n"
"                            PROGRAM exits with --; ms, s, m, h)\n"
"  --sample-interval SIZE    mean bytes between samples (default 512k; k, m, g)\n"
"  --every                   record every allocation: exact, slower\n"
"  --engine agent|trap       agent (default): events go to a ring in the target\n"
"                            and leaktrap holds no ptrace between attach and\n"
"                            detach; trap: each sampled event stops its thread\n"
"                            briefly (default from $LEAKTRAP_ENGINE)\n"
"  --min-age DUR             report: only allocations at least this old at the end\n"
"  --top N                   at most N groups (default 10 for text, all otherwise; 0 = all)\n"
"  --format text|json|folded|pprof   report format (default text)\n"
"  -o, --output FILE         write the report (or the commands' output) to FILE\n"
"  -q, --quiet               no messages on stderr, only errors\n"
"  -h, --help                this text\n"
"  --version                 leaktrap's version\n"
"\n"
"Exit status: 0 success, 1 a command or the attach failed, 2 bad usage.\n"
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

enum format { F_TEXT, F_JSON, F_FOLDED, F_PPROF };

struct options {
	bool report;
	pid_t pid;
	char **program;            /* after --, or NULL */
	uint64_t duration_ns, interval, min_age_ns, top;
	bool duration_set, top_set, quiet, agent;
	enum format format;
	const char *output;
	/* -x and -ex in the order given: 'x' or 'e' with the argument */
	char *script_kind;
	char **script_arg;
	int *script_fd;            /* -x files, opened before attaching */
	int nscripts;
};

/* Exits with a one-line error if the command file fd (named name) is a
 * directory, or a regular file whose start is not text. */
static void check_command_file(int fd, const char *name)
{
	struct stat st;
	char head[512];
	if (fstat(fd, &st) < 0)
		die(1, "cannot read command file %s: %s", name, strerror(errno));
	if (S_ISDIR(st.st_mode))
		die(1, "command file %s is a directory: give a file of commands, one per line", name);
	ssize_t n = S_ISREG(st.st_mode) ? pread(fd, head, sizeof(head), 0) : 0;
	const char *nul = n > 0 ? memchr(head, 0, (size_t)n) : NULL;
	if (nul)
		die(1, "command file %s is not text (a NUL byte at offset %td): give a file of "
		    "commands, one per line", name, nul - head);
}

/* Parses argv into o; exits with status 2 and one line on bad usage. */
static void parse_options(int argc, char **argv, struct options *o)
{
	enum { O_DURATION = 256, O_INTERVAL, O_EVERY, O_MIN_AGE, O_TOP, O_FORMAT, O_VERSION, O_EX,
	       O_ENGINE };
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
		{ "ex", required_argument, 0, O_EX },
		{ "engine", required_argument, 0, O_ENGINE },
		{ 0, 0, 0, 0 },
	};
	*o = (struct options){ .duration_ns = 10000000000ULL, .interval = 512 * 1024 };
	const char *engine = getenv("LEAKTRAP_ENGINE");
	if (engine && engine[0] && strcmp(engine, "agent") && strcmp(engine, "trap"))
		die(2, "LEAKTRAP_ENGINE is '%s': use agent or trap", engine);
	o->agent = !engine || strcmp(engine, "trap");	/* the agent engine unless told */
	bool every = false, interval_set = false;
	uint64_t v;
	if (argc > 1 && !strcmp(argv[1], "report")) {
		o->report = true;
		argv[1] = argv[0];
		argv++;
		argc--;
	} else if (argc > 1 && argv[1][0] != '-') {
		die(2, "unknown command '%s': see 'leaktrap --help'", argv[1]);
	}
	/* -- ends leaktrap's options: what follows is the program */
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--")) {
			o->program = &argv[i + 1];
			argv[i] = NULL;
			argc = i;
			break;
		} else if (!strcmp(argv[i], "-ex")) {
			argv[i] = "--ex";	/* gdb's spelling; getopt wants two dashes */
		}
	o->script_kind = calloc((size_t)argc + 1, 1);
	o->script_arg = calloc((size_t)argc + 1, sizeof(char *));
	o->script_fd = calloc((size_t)argc + 1, sizeof(int));
	if (!o->script_kind || !o->script_arg || !o->script_fd)
		die(1, "out of memory");
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, "+:p:o:qhx:", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (parse_uint(optarg, 0x7fffffff, &v) < 0 || v == 0)
				die(2, "invalid PID '%s': give a positive process ID", optarg);
			o->pid = (pid_t)v;
			break;
		case 'x':
		case O_EX:
			o->script_kind[o->nscripts] = c == 'x' ? 'x' : 'e';
			o->script_arg[o->nscripts++] = optarg;
			break;
		case O_DURATION:
			if (parse_duration(optarg, &o->duration_ns) < 0 || o->duration_ns == 0)
				die(2, "invalid duration '%s': use a positive number with ms, s, m or h, e.g. 10s", optarg);
			o->duration_set = true;
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
				o->format = F_JSON;
			else if (!strcmp(optarg, "folded"))
				o->format = F_FOLDED;
			else if (!strcmp(optarg, "pprof"))
				o->format = F_PPROF;
			else if (strcmp(optarg, "text"))
				die(2, "unknown format '%s': use text, json, folded or pprof", optarg);
			break;
		case O_ENGINE:
			if (strcmp(optarg, "agent") && strcmp(optarg, "trap"))
				die(2, "unknown engine '%s': use agent or trap", optarg);
			o->agent = !strcmp(optarg, "agent");
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
		die(2, "unexpected argument '%s': to start a program, put it after '--' (see 'leaktrap --help')",
		    argv[optind]);
	if (every && interval_set)
		die(2, "--every and --sample-interval contradict each other: give one");
	if (every)
		o->interval = 0;
	if (o->program && !o->program[0])
		die(2, "nothing after '--': name the program to start");
	if (o->program && o->pid)
		die(2, "-p and -- PROGRAM both given: examine a running process or start one, not both");
	if (!o->pid && !o->program)
		die(2, "no process given: use -p PID or -- PROGRAM (see 'leaktrap --help')");
	if (o->report && o->nscripts)
		die(2, "report takes no -x or -ex: it prints one report (drop 'report' to run commands)");
	if (!o->report && o->format != F_TEXT)
		die(2, "--format is for reports: use 'leaktrap report --format ...' or the export command");
	if (!o->top_set)
		o->top = o->format == F_TEXT ? 10 : 0;
	/* a command file that cannot be read is bad input: say so before attaching */
	for (int i = 0; i < o->nscripts; i++) {
		o->script_fd[i] = -1;
		if (o->script_kind[i] == 'x' && strcmp(o->script_arg[i], "-") &&
		    (o->script_fd[i] = open(o->script_arg[i], O_RDONLY | O_CLOEXEC)) < 0)
			die(1, "cannot read command file %s: %s", o->script_arg[i], strerror(errno));
		if (o->script_fd[i] >= 0)
			check_command_file(o->script_fd[i], o->script_arg[i]);
	}
}

/* Crash handler: leave the target clean, then die of the same signal. */
static void on_crash(int sig)
{
	engine_emergency();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Writes the report in format to f and flushes it; returns 0 or -errno. */
static int write_report(FILE *f, enum format format, const struct report_meta *m,
			const struct query_result *r, struct session *S)
{
	int rc;
	switch (format) {
	case F_JSON: rc = report_json(f, m, r, S->e.store, S->sym); break;
	case F_FOLDED: rc = export_folded(f, m, r, S->e.store, S->sym); break;
	case F_PPROF: rc = export_pprof(f, m, r, S->e.store, S->sym); break;
	default: rc = report_text(f, m, r, S->e.store, S->sym); break;
	}
	errno = 0;
	if (rc == 0 && fflush(f) != 0)
		rc = errno ? -errno : -EIO;
	return rc;
}

/* Report mode: lets the target run for the duration (or until it ends or a
 * signal), showing progress on a terminal, then detaches and writes one
 * report. Returns the exit status. */
static int run_report(struct session *S, const struct options *o, FILE *out)
{
	bool progress = !o->quiet && isatty(2);
	/* started by us without --duration: until the program exits */
	uint64_t deadline = o->program && !o->duration_set ? 0 : S->e.attach_ns + o->duration_ns;
	int why;
	do {
		uint64_t step = now_ns() + 1000000000ULL;
		why = session_wait(S, deadline && deadline < step ? deadline : step);
		if (progress && S->attached) {
			struct query q = { 0 };
			struct query_result r;
			char hb[32], lim[48] = "";
			double live = 0;
			if (query_by_stack(S->e.store, &q, now_ns(), &r) == 0)
				live = r.total_bytes, query_result_free(&r);
			if (deadline)
				snprintf(lim, sizeof(lim), " of %.0fs", (double)o->duration_ns / 1e9);
			fprintf(stderr, "\rleaktrap: %.0fs%s, %llu samples, %s%s live%s\033[K",
				(double)(now_ns() - S->e.attach_ns) / 1e9, lim,
				(unsigned long long)S->e.samples, S->interval ? "~" : "",
				fmt_size(live, false, hb, sizeof(hb)), S->interval ? " (est.)" : "");
		}
	} while ((why == 0 || why == 3) && (!deadline || now_ns() < deadline));
	if (progress)
		fprintf(stderr, "\r\033[K");
	int detach_rc = session_detach(S);

	struct query q = { .min_age_ns = o->min_age_ns, .top = (unsigned)o->top, .sort = SORT_BYTES };
	struct query_result r;
	struct report_meta m;
	if (query_by_stack(S->e.store, &q, session_now(S), &r) < 0)
		die(1, "out of memory");
	session_meta(S, &q, &m);
	int rc = write_report(out, o->format, &m, &r, S);
	int status = detach_rc < 0 ? 1 : 0;
	if (out != stdout && fclose(out) != 0 && rc == 0)
		rc = -errno;
	if (rc < 0) {
		/* Nothing gathered is lost: standard output, else a file in /tmp. */
		fprintf(stderr, "leaktrap: cannot write the report to %s: %s\n",
			o->output ? o->output : "standard output", strerror(-rc));
		status = 1;
		if (out != stdout && write_report(stdout, o->format, &m, &r, S) == 0) {
			fprintf(stderr, "leaktrap: the report went to standard output instead\n");
		} else {
			static const char *ext[] = { "txt", "json", "folded", "pb.gz" };
			char path[128];
			snprintf(path, sizeof(path), "/tmp/leaktrap-%d-%lld.%s", S->pid,
				 (long long)time(NULL), ext[o->format]);
			int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
			FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
			if (f && write_report(f, o->format, &m, &r, S) == 0 && fclose(f) == 0)
				fprintf(stderr, "leaktrap: the report was saved to %s\n", path);
			else
				fprintf(stderr, "leaktrap: the report could not be saved anywhere (%s)\n", path);
		}
	}
	query_result_free(&r);
	return status;
}

/* Command mode: runs -x files and -ex commands in order, or the shell on a
 * terminal, or commands from stdin; then detaches. Returns the exit status. */
static int run_commands(struct session *S, const struct options *o)
{
	struct interp I = { .S = S, .default_top = o->top_set ? (unsigned)o->top : 10 };
	int status = 0;
	if (o->nscripts) {
		for (int i = 0; i < o->nscripts && !I.done && !I.stopped; i++) {
			int rc;
			if (o->script_kind[i] == 'e') {
				rc = script_run_ex(&I, o->script_arg[i]);
			} else if (!strcmp(o->script_arg[i], "-")) {
				rc = script_run_fd(&I, 0, "stdin");
			} else {
				rc = script_run_fd(&I, o->script_fd[i], o->script_arg[i]);
				close(o->script_fd[i]);
			}
			if (rc) {
				status = 1;
				if (!I.on_error_continue)
					break;
			}
		}
	} else if (isatty(0)) {
		I.interactive = true;
		shell_run(&I);
	} else {
		status = script_run_fd(&I, 0, "stdin");
	}
	if (I.stopped && !o->quiet)
		fprintf(stderr, "leaktrap: stopping on %s\n", strsignal(S->e.stop_signal));
	if (session_detach(S) < 0)
		status = 1;
	if (I.stopped)
		status = status ? status : 1;
	return status;
}

int main(int argc, char **argv)
{
	struct options o;
	char err[512];
	parse_options(argc, argv, &o);

	FILE *out = stdout;
	if (o.output && !(out = fopen(o.output, "we")))
		die(1, "cannot write to %s: %s", o.output, strerror(errno));
	int sigfd = engine_signals();
	if (sigfd < 0)
		die(1, "cannot set up signal handling: %s", strerror(-sigfd));
	int crash_sigs[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT };
	for (size_t i = 0; i < sizeof(crash_sigs) / sizeof(crash_sigs[0]); i++)
		signal(crash_sigs[i], on_crash);

	pid_t pid = o.pid;
	if (o.program && (pid = launch_program(o.program, err, sizeof(err))) < 0)
		die(1, "%s", err);
	static struct session S;
	S.out = out;
	S.e.input_fd = -1;
	unsigned flags = (o.agent ? ENGINE_AGENT : 0) | (o.program ? ENGINE_HOLD_LEADER : 0);
	if (session_attach(&S, pid, sigfd, o.interval, flags, o.quiet, err, sizeof(err)) < 0) {
		if (o.program)
			kill(pid, SIGKILL);
		die(1, "%s", err);
	}
	if (o.program) {
		kill(pid, SIGCONT);	/* launch left it stopped at its entry point */
		if (!o.quiet)
			fprintf(stderr, "leaktrap: started %s as PID %d\n", o.program[0], pid);
	}
	int status = o.report ? run_report(&S, &o, out) : run_commands(&S, &o);
	if (o.report)
		out = stdout;	/* run_report closed it */
	if (o.program && !S.e.end[0] && !o.quiet)
		fprintf(stderr, "leaktrap: %s (PID %d) keeps running without leaktrap\n",
			o.program[0], pid);
	if (out != stdout && fclose(out) != 0)
		die(1, "cannot write to %s: %s", o.output, strerror(errno));
	session_free(&S);
	return status;
}
