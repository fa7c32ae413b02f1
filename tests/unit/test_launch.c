/* test_launch: launch_program (`leaktrap -- PROGRAM`) on real programs.
 * A dynamic program (/bin/sh) and a static one (build/targets/
 * leak_single_static) must each be left in state T, untraced, with the PC
 * on AT_ENTRY as seen through target_seize, the code at AT_ENTRY equal to the
 * ELF file's, and (dynamic) libc already mapped; the child's signal mask
 * must be empty and leaktrap's handlers gone although the test blocked
 * leaktrap's signals and caught one. After SIGCONT, /bin/sh runs its
 * argv and exits with the status it computes. build/targets/pre_entry
 * runs code in ld.so, before its entry point: signals met there reach its
 * handlers, a SIGSTOP there does not stall the launch, an exec there moves
 * the stop to the new image's entry point, a process forked there runs
 * without our breakpoint. A missing or non-executable
 * program, an empty argv, and a program that exits or is killed before its
 * entry point (pre_entry; ld.so in LD_TRACE_LOADED_OBJECTS mode) give -1
 * with a clear message and leave no child behind.
 * Prints "ok N - ..." / "not ok N - ..."; "# ..." lines are notes.
 * Exits 0 iff every check passed. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ptrace.h>
#include <sys/wait.h>

#include "launch.h"
#include "target.h"

static int failures, checks;
#define CHECK(cond, ...) do { checks++; if (cond) printf("ok %d - ", checks); \
	else { failures++; printf("not ok %d - ", checks); } printf(__VA_ARGS__); printf("\n"); } while (0)

/* Returns the state letter of /proc/PID/stat, or '?' if unreadable. */
static char proc_state(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return '?';
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	char *p = strrchr(buf, ')');	/* comm may hold spaces and ')' */
	return p && p[1] == ' ' ? p[2] : '?';
}

/* Returns the hexadecimal field "Name:" of /proc/PID/status (SigBlk, SigIgn,
 * SigCgt), or ~0 if absent. */
static unsigned long long status_hex(pid_t pid, const char *name)
{
	char path[64], line[256];
	unsigned long long v = ~0ull;
	size_t nl = strlen(name);
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	FILE *f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, name, nl) && line[nl] == ':') {
			v = strtoull(line + nl + 1, NULL, 16);
			break;
		}
	if (f)
		fclose(f);
	return v;
}

/* Returns AT_ENTRY of pid (read independently of launch.c), or 0. */
static taddr_t at_entry(pid_t pid)
{
	char path[64];
	uint64_t av[512];
	snprintf(path, sizeof(path), "/proc/%d/auxv", pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	size_t n = fread(av, sizeof(uint64_t), 512, f);
	fclose(f);
	for (size_t i = 0; i + 1 < n; i += 2)
		if (av[i] == AT_ENTRY)
			return av[i + 1];
	return 0;
}

/* Reads len bytes of pid's ELF file at its entry point (e_entry, through the
 * PT_LOAD that holds it); returns 0 or -1. */
static int file_entry_bytes(pid_t pid, uint8_t *buf, size_t len)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	Elf64_Ehdr eh;
	int ok = -1;
	if (fd < 0)
		return -1;
	if (pread(fd, &eh, sizeof(eh), 0) != sizeof(eh))
		goto out;
	for (int i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		if (pread(fd, &ph, sizeof(ph), (off_t)(eh.e_phoff + (uint64_t)i * eh.e_phentsize)) != sizeof(ph))
			goto out;
		if (ph.p_type == PT_LOAD && eh.e_entry >= ph.p_vaddr && eh.e_entry + len <= ph.p_vaddr + ph.p_filesz) {
			off_t off = (off_t)(ph.p_offset + (eh.e_entry - ph.p_vaddr));
			ok = pread(fd, buf, len, off) == (ssize_t)len ? 0 : -1;
			break;
		}
	}
out:
	close(fd);
	return ok;
}

/* Whether /proc/PID/maps names a file whose path contains what. */
static bool maps_has(pid_t pid, const char *what)
{
	char path[64], line[512];
	bool found = false;
	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	FILE *f = fopen(path, "re");
	while (f && !found && fgets(line, sizeof(line), f))
		found = strstr(line, what) != NULL;
	if (f)
		fclose(f);
	return found;
}

/* Whether the test process has no child left (no zombie, nothing running). */
static bool no_children(void)
{
	int st;
	return waitpid(-1, &st, WNOHANG | __WALL) < 0 && errno == ECHILD;
}

static void on_usr1(int sig) { (void)sig; }

/* What the launched child looked like while it waited at its entry point. */
struct seen {
	char state, state_after;
	long tracer;
	unsigned long long blk, ign, cgt;
	enum stop_kind stop;
	int stop_sig;
	taddr_t entry, pc;
	bool code_same, libc;
};

/* Inspects a launched, stopped child the way engine_attach will meet it:
 * target_seize, PTRACE_INTERRUPT, one stop; registers and code through the
 * target layer; then detaches and looks again. */
static void inspect(pid_t pid, struct seen *s)
{
	char err[256];
	struct target t;
	memset(s, 0, sizeof(*s));
	s->state = proc_state(pid);
	s->tracer = target_status_field(pid, "TracerPid");
	s->blk = status_hex(pid, "SigBlk");
	s->ign = status_hex(pid, "SigIgn");
	s->cgt = status_hex(pid, "SigCgt");
	s->entry = at_entry(pid);
	s->libc = maps_has(pid, "libc.so.6");
	s->stop = STOP_RUNNING;
	if (target_seize(&t, pid, err, sizeof(err)) < 0) {
		printf("# target_seize: %s\n", err);
		return;
	}
	target_interrupt_all(&t);
	int st;
	if (waitpid(pid, &st, __WALL) == pid && WIFSTOPPED(st)) {
		struct thread *th = &t.th[0];
		target_note_stop(th, st);
		s->stop = th->stop;
		s->stop_sig = th->sig;
		struct arch_regs *r = target_regs(th);
		s->pc = r ? arch_pc(r) : 0;
		uint8_t mem[16], file[16];
		s->code_same = s->entry && target_read(&t, s->entry, mem, sizeof(mem)) == 0 &&
			       file_entry_bytes(pid, file, sizeof(file)) == 0 &&
			       !memcmp(mem, file, sizeof(mem));
	}
	target_detach_all(&t);
	target_release(&t);
	/* The detached thread goes back into its group-stop; give it a moment. */
	for (int i = 0; i < 200 && proc_state(pid) != 'T'; i++)
		usleep(1000);
	s->state_after = proc_state(pid);
}

/* Checks what inspect() saw, for a child launched as what, which catches
 * the signals in own_cgt itself before its entry point. */
static void check_seen(const struct seen *s, const char *what, bool dynamic, unsigned long long own_cgt)
{
	CHECK(s->state == 'T' && s->tracer == 0, "%s: stopped (state %c, want T), untraced (TracerPid %ld)",
	      what, s->state, s->tracer);
	CHECK(s->blk == 0, "%s: empty signal mask although the launcher blocked signals (SigBlk %llx)",
	      what, s->blk);
	CHECK(s->cgt == own_cgt, "%s: no handler of the launcher left (SigCgt %llx, want %llx)",
	      what, s->cgt, own_cgt);
	CHECK(s->stop == STOP_GROUP && s->stop_sig == SIGSTOP,
	      "%s: target_seize meets a SIGSTOP group-stop (stop kind %d, sig %d)", what, s->stop, s->stop_sig);
	CHECK(s->entry && s->pc == s->entry, "%s: PC " TADDR_FMT " is AT_ENTRY " TADDR_FMT,
	      what, TADDR_ARG(s->pc), TADDR_ARG(s->entry));
	CHECK(s->code_same, "%s: the 16 bytes at AT_ENTRY are those of the ELF file", what);
	if (dynamic)
		CHECK(s->libc, "%s: libc.so.6 is already mapped", what);
	CHECK(s->state_after == 'T', "%s: still stopped after seize and detach (state %c)", what, s->state_after);
}

/* Returns build/targets/NAME, found from this test's own path (build/unit/). */
static const char *target_path(const char *name)
{
	static char path[PATH_MAX + 64];
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return name;
	self[n] = 0;
	snprintf(path, sizeof(path), "%s/../targets/%s", dirname(self), name);
	return path;
}

/* Returns CLOCK_MONOTONIC in milliseconds. */
static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Sends SIGCONT to a launched child and checks it exits with status want. */
static void continue_and_check(pid_t pid, int want, const char *what)
{
	kill(pid, SIGCONT);
	int st = 0;
	pid_t w;
	while ((w = waitpid(pid, &st, 0)) < 0 && errno == EINTR)
		;
	bool exited = w == pid && WIFEXITED(st);
	CHECK(exited && WEXITSTATUS(st) == want, "%s: runs after SIGCONT and exits %d (%s %d)",
	      what, want, exited ? "exit" : "wait status", exited ? WEXITSTATUS(st) : st);
}

/* /bin/sh: dynamic, argv passed through, exit status after SIGCONT. */
static void test_shell(void)
{
	char err[256] = "";
	char *argv[] = { "/bin/sh", "-c", "exit $(($1 * $2))", "sh", "3", "5", NULL };
	unsigned long long ign = status_hex(getpid(), "SigIgn");
	double t0 = now_ms();
	pid_t pid = launch_program(argv, err, sizeof(err));
	printf("# launching /bin/sh took %.1f ms\n", now_ms() - t0);
	CHECK(pid > 0, "/bin/sh launched (%s)", pid > 0 ? "ok" : err);
	if (pid <= 0)
		return;
	struct seen s;
	inspect(pid, &s);
	check_seen(&s, "/bin/sh", true, 0);
	CHECK(s.ign == ign, "/bin/sh: inherits the launcher's ignored signals, as from a shell "
	      "(SigIgn %llx, launcher's %llx)", s.ign, ign);
	continue_and_check(pid, 15, "/bin/sh -c 'exit $(($1 * $2))' sh 3 5");
}

/* A static executable: no ld.so, already at its entry point at exec. */
static void test_static(void)
{
	const char *path = target_path("leak_single_static");
	if (access(path, X_OK) < 0) {
		printf("# skipped the static program: %s is not built (make tests)\n", path);
		return;
	}
	char err[256] = "";
	char *argv[] = { (char *)path, NULL };
	pid_t pid = launch_program(argv, err, sizeof(err));
	CHECK(pid > 0, "leak_single_static launched (%s)", pid > 0 ? "ok" : err);
	if (pid <= 0)
		return;
	struct seen s;
	inspect(pid, &s);
	check_seen(&s, "leak_single_static", false, 0);
	kill(pid, SIGKILL);
	int st;
	waitpid(pid, &st, 0);
}

/* Launches argv expecting a failure; checks the message names the program
 * and contains want, and that no child is left. */
static void test_failure(char *const argv[], const char *want, const char *what)
{
	char err[256] = "";
	pid_t pid = launch_program(argv, err, sizeof(err));
	const char *name = argv[0] ? argv[0] : "";
	CHECK(pid == -1 && strstr(err, want) && strstr(err, name) && !strchr(err, '\n'),
	      "%s: -1 and one line naming it (\"%s\")", what, err);
	CHECK(no_children(), "%s: no child left behind", what);
	if (pid > 0) {	/* launched after all: do not leave it to the next check */
		int st;
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
	}
}

/* pre_entry: code that runs in ld.so before the entry point and meets
 * signals (passed on to its handlers; a SIGSTOP does not stall the launch),
 * exits, is killed, or execs (the new image's entry point is the one). */
static void test_pre_entry(void)
{
	const char *path = target_path("pre_entry");
	if (access(path, X_OK) < 0) {
		printf("# skipped pre_entry: %s is not built (make tests)\n", path);
		return;
	}
	const char *modes[] = { "signals", "exec", "fork" };
	for (int i = 0; i < 3; i++) {
		char err[256] = "", what[64];
		char *argv[] = { (char *)path, (char *)modes[i], NULL };
		snprintf(what, sizeof(what), "pre_entry %s", modes[i]);
		pid_t pid = launch_program(argv, err, sizeof(err));
		CHECK(pid > 0, "%s launched (%s)", what, pid > 0 ? "ok" : err);
		if (pid <= 0)
			continue;
		struct seen s;
		inspect(pid, &s);
		check_seen(&s, what, true, i < 2 ? 1ull << (SIGUSR1 - 1) | 1ull << (SIGUSR2 - 1) : 0);
		/* 42: both handlers ran, before the entry point, in the image
		 * that main runs in; or the forked child ran main cleanly. */
		continue_and_check(pid, 42, what);
	}
	char *ex[] = { (char *)path, "exit", NULL };
	test_failure(ex, "exited with status 3 before its entry point", "pre_entry exit");
	char *term[] = { (char *)path, "term", NULL };
	test_failure(term, "was killed by signal 15", "pre_entry term");
}

int main(void)
{
	/* Run the way leaktrap's main runs the launcher: its signals blocked
	 * for a signalfd, a handler installed, SIGHUP ignored as under nohup. */
	sigset_t set;
	sigemptyset(&set);
	int sigs[] = { SIGCHLD, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE };
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaddset(&set, sigs[i]);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGUSR1, on_usr1);
	signal(SIGHUP, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);

	test_shell();
	test_static();

	char *missing[] = { "leaktrap-test-no-such-program", NULL };
	test_failure(missing, strerror(ENOENT), "a missing program");
	char *noexec[] = { "/etc/passwd", NULL };
	test_failure(noexec, strerror(EACCES), "a file without execute permission");
	char *empty[] = { NULL };
	test_failure(empty, "no program", "an empty argv");
	test_pre_entry();

	/* ld.so lists the libraries and exits without ever jumping to the
	 * program: an exit before the entry point. Its list goes to /dev/null. */
	fflush(stdout);
	int saved = dup(1), null = open("/dev/null", O_WRONLY);
	dup2(null, 1);
	setenv("LD_TRACE_LOADED_OBJECTS", "1", 1);
	char err[256] = "";
	char *truth[] = { "/bin/true", NULL };
	pid_t pid = launch_program(truth, err, sizeof(err));
	unsetenv("LD_TRACE_LOADED_OBJECTS");
	dup2(saved, 1);
	close(saved);
	close(null);
	CHECK(pid == -1 && strstr(err, "/bin/true") && strstr(err, "before its entry point"),
	      "a program that exits in ld.so: -1, \"%s\"", err);
	CHECK(no_children(), "a program that exits in ld.so: no child left behind");
	if (pid > 0) {
		int st;
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
	}

	printf("# %d checks, %d failed\n", checks, failures);
	return failures ? 1 : 0;
}
