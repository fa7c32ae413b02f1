/* launch: starting a program for `leaktrap -- PROGRAM`, stopped at its entry point.
 *
 * The child becomes our tracee (PTRACE_TRACEME), stops once so that we can
 * set ptrace options, and execs. At the exec stop the dynamic linker has not
 * run yet, so we plant a breakpoint at the program's entry point (AT_ENTRY)
 * and let ld.so map and relocate the libraries. When the breakpoint fires,
 * the original bytes go back, the PC goes back to AT_ENTRY, and we detach
 * with a SIGSTOP queued: the program sits in an ordinary group-stop at its
 * first instruction, untraced, for engine_attach to seize like any stopped
 * process.
 *
 * Note that the libraries' constructors (DT_INIT, DT_INIT_ARRAY of every
 * shared object) and the program's DT_PREINIT_ARRAY run inside ld.so,
 * before the entry point: what they allocate is not seen. A static
 * executable has no ld.so; it is already at its entry point when the exec
 * stops, and nothing has run.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ptrace.h>
#include <sys/wait.h>

#include "arch.h"
#include "launch.h"

/* How long, in seconds, the child may take to enter its group-stop once we
 * detach. It needs microseconds; the bound only matters if someone else
 * sends it SIGCONT in between. */
#define STOP_WAIT_S 2

/* What the child tells us through the pipe when it cannot get to exec. */
struct child_failure {
	int step;	/* CHILD_TRACEME or CHILD_EXEC */
	int err;	/* errno */
};
enum { CHILD_TRACEME, CHILD_EXEC };

/* Runs in the forked child: becomes our tracee, takes the signal state a
 * shell would give a program, and execs argv. On failure writes what failed
 * to fd (close-on-exec, so a successful exec writes nothing) and exits 127.
 * Never returns. Nothing that allocates or locks (glibc's execvp builds
 * its paths on the stack): leaktrap may have threads. */
static void child(char *const argv[], int fd)
{
	/* leaktrap's own handlers (the crash handler, for one) must not run in
	 * the child once its mask opens: reset them first. exec would reset
	 * them too, but only after that window. Ignored signals stay ignored,
	 * as a shell passes them on: `nohup leaktrap -- prog` keeps SIGHUP
	 * ignored in prog as `nohup prog` would. */
	for (int s = 1; s < NSIG; s++) {
		struct sigaction sa;
		if (sigaction(s, NULL, &sa) == 0 && sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN) {
			memset(&sa, 0, sizeof(sa));
			sa.sa_handler = SIG_DFL;
			sigaction(s, &sa, NULL);
		}
	}
	struct child_failure f = { CHILD_TRACEME, 0 };
	if (ptrace(PTRACE_TRACEME, 0, 0, 0) < 0)
		goto fail;
	/* Wait here, before exec, for the parent to set PTRACE_O_TRACEEXEC and
	 * PTRACE_O_EXITKILL. */
	raise(SIGSTOP);
	/* leaktrap blocks the signals it reads through a signalfd; the program
	 * must start with the empty mask a shell gives it. */
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execvp(argv[0], argv);
	f.step = CHILD_EXEC;
fail:
	f.err = errno;
	ssize_t n = write(fd, &f, sizeof(f));
	(void)n;
	_exit(127);
}

/* Waits for the child's next state change; returns 1 when it is stopped, 0
 * when it has ended (and is reaped), -errno when waitpid fails. */
static int wait_child(pid_t pid, int *st)
{
	while (waitpid(pid, st, __WALL) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFSTOPPED(*st) ? 1 : 0;
}

/* Resumes the stopped child, delivering the signal its stop carries unless
 * the stop is not a signal-delivery-stop; returns 0 or -errno. */
static int pass_on(pid_t pid, int st)
{
	int sig = WSTOPSIG(st);
	siginfo_t si;
	/* A ptrace event stop (st >> 16) carries no signal. A traced group-stop
	 * (after a SIGSTOP/SIGTSTP we passed on) has no siginfo: it must be
	 * resumed without a signal, or it would stop again. */
	if ((st >> 16) || ptrace(PTRACE_GETSIGINFO, pid, 0, &si) < 0)
		sig = 0;
	return ptrace(PTRACE_CONT, pid, 0, sig) < 0 ? -errno : 0;
}

/* Kills the child and reaps it, so that no zombie is left. */
static void kill_reap(pid_t pid)
{
	int st;
	kill(pid, SIGKILL);
	while (wait_child(pid, &st) == 1)
		;
}

/* Writes how the child ended (wait status st) into err, with when. */
static void say_ended(char *err, size_t errlen, const char *name, int st, const char *when)
{
	if (WIFSIGNALED(st))
		snprintf(err, errlen, "'%s' was killed by signal %d (%s) %s", name,
			 WTERMSIG(st), strsignal(WTERMSIG(st)), when);
	else
		snprintf(err, errlen, "'%s' exited with status %d %s", name, WEXITSTATUS(st), when);
}

/* Reads or writes (writing) len bytes of pid's memory at addr through
 * /proc/PID/mem, which writes read-only code and exactly len bytes (a
 * PTRACE_POKETEXT word could run off the end of the mapping); returns 0 or
 * -errno. Opened per call: the file belongs to the image of the moment,
 * and an exec replaces it. */
static int mem_rw(pid_t pid, taddr_t addr, void *buf, size_t len, bool writing)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	int fd = open(path, (writing ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = writing ? pwrite(fd, buf, len, (off_t)addr) : pread(fd, buf, len, (off_t)addr);
	int e = n < 0 ? errno : EIO;
	close(fd);
	return n == (ssize_t)len ? 0 : -e;
}

/* Returns the ELF class of the child's executable image, or 0 if unknown. */
static int image_class(pid_t pid)
{
	char path[64];
	unsigned char ident[EI_NIDENT];
	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, ident, sizeof(ident));
	close(fd);
	return n == EI_NIDENT && !memcmp(ident, ELFMAG, SELFMAG) ? ident[EI_CLASS] : 0;
}

/* Returns AT_ENTRY from /proc/PID/auxv (64-bit entries: the caller has
 * checked the class), or 0 if it cannot be read. */
static taddr_t auxv_entry(pid_t pid)
{
	char path[64];
	uint64_t av[512];
	snprintf(path, sizeof(path), "/proc/%d/auxv", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	size_t got = 0;
	ssize_t n;
	while (got < sizeof(av) && (n = read(fd, (char *)av + got, sizeof(av) - got)) > 0)
		got += (size_t)n;
	close(fd);
	for (size_t i = 0; i + 1 < got / sizeof(uint64_t) && av[i] != AT_NULL; i += 2)
		if (av[i] == AT_ENTRY)
			return av[i + 1];
	return 0;
}

/* At an exec stop: finds the new image's entry point and, unless the PC is
 * already there, plants a breakpoint on it, keeping the bytes it replaces in
 * orig. Returns the entry point, or 0 with err filled. */
static taddr_t plant(pid_t pid, const char *name, uint8_t *orig, bool *planted,
		     char *err, size_t errlen)
{
	*planted = false;
	if (image_class(pid) == ELFCLASS32) {
		snprintf(err, errlen, "'%s' is a 32-bit program: leaktrap supports 64-bit processes only", name);
		return 0;
	}
	taddr_t entry = auxv_entry(pid);
	if (!entry) {
		snprintf(err, errlen, "cannot find the entry point of '%s' in /proc/%d/auxv", name, pid);
		return 0;
	}
	struct arch_regs r;
	int e = arch_regs_get(pid, &r);
	if (e < 0) {
		snprintf(err, errlen, "cannot read the registers of '%s': %s", name, strerror(-e));
		return 0;
	}
	/* A static executable starts at its entry point: nothing to run up to. */
	if (arch_pc(&r) == entry)
		return entry;
	if ((e = mem_rw(pid, entry, orig, arch_bkpt_len, false)) < 0 ||
	    (e = mem_rw(pid, entry, (void *)arch_bkpt_insn, arch_bkpt_len, true)) < 0) {
		snprintf(err, errlen, "cannot set a breakpoint at the entry point of '%s' (" TADDR_FMT "): %s",
			 name, TADDR_ARG(entry), strerror(-e));
		return 0;
	}
	*planted = true;
	return entry;
}

/* At the breakpoint's stop: puts the original bytes back and the PC on the
 * entry point, as if the breakpoint had never been there. Returns 0 or -1
 * with err filled. */
static int unplant(pid_t pid, const char *name, taddr_t entry, const uint8_t *orig,
		   struct arch_regs *r, char *err, size_t errlen)
{
	int e = mem_rw(pid, entry, (void *)orig, arch_bkpt_len, true);
	if (e == 0) {
		arch_set_pc(r, entry);
		e = arch_regs_set(pid, r);
	}
	if (e < 0) {
		snprintf(err, errlen, "cannot restore the entry point of '%s': %s", name, strerror(-e));
		return -1;
	}
	return 0;
}

/* A process the child forked before its entry point (in a constructor) has
 * a copy of our breakpoint: waits for its first stop, gives it the original
 * bytes back, and lets it go untraced. */
static void release_fork(pid_t kid, taddr_t entry, const uint8_t *orig)
{
	int st;
	/* It starts traced, with a SIGSTOP stop of its own (or ends first). */
	if (wait_child(kid, &st) != 1)
		return;
	mem_rw(kid, entry, (void *)orig, arch_bkpt_len, true);
	ptrace(PTRACE_DETACH, kid, 0, 0);
}

/* Runs the traced child from its pre-exec stop to its entry point, passing
 * on every signal that is not our breakpoint. Returns 1 when it is there
 * (PC on the entry point, code as it was), 0 when it has ended (reaped; *st
 * says how, *execed whether it got as far as exec), -1 with err filled. */
static int run_to_entry(pid_t pid, const char *name, int *st, bool *execed, char *err, size_t errlen)
{
	uint8_t orig[16];	/* longer than any breakpoint instruction */
	bool planted = false;
	taddr_t entry = 0;
	struct arch_regs regs;
	int r;

	*execed = false;
	/* The child's own SIGSTOP, before exec. TRACEFORK: a fork before the
	 * entry point copies our breakpoint, which release_fork takes out
	 * (a vfork child shares it, but may only exec or _exit). EXITKILL: if
	 * leaktrap dies before it detaches, the child dies too rather than
	 * run into our breakpoint untraced. */
	while ((r = wait_child(pid, st)) == 1 && (WSTOPSIG(*st) != SIGSTOP || (*st >> 16)))
		if ((r = pass_on(pid, *st)) < 0 && r != -ESRCH)
			goto fail;
	if (r == 0)
		return 0;
	if (r < 0)
		goto fail;
	if (ptrace(PTRACE_SETOPTIONS, pid, 0, PTRACE_O_TRACEEXEC | PTRACE_O_TRACEFORK | PTRACE_O_EXITKILL) < 0 ||
	    ptrace(PTRACE_CONT, pid, 0, 0) < 0) {
		r = -errno;
		goto fail;
	}
	for (;;) {
		if ((r = wait_child(pid, st)) == 0)
			return 0;
		if (r < 0)
			goto fail;
		if (*st >> 8 == (SIGTRAP | (PTRACE_EVENT_EXEC << 8))) {
			/* Every exec (ours, or one a library constructor makes)
			 * brings a new image and a new entry point. */
			*execed = true;
			if (!(entry = plant(pid, name, orig, &planted, err, errlen)))
				return -1;
			if (!planted)
				return 1;	/* static: already at the entry point */
		} else if (*st >> 8 == (SIGTRAP | (PTRACE_EVENT_FORK << 8))) {
			unsigned long kid;
			if (ptrace(PTRACE_GETEVENTMSG, pid, 0, &kid) == 0)
				release_fork((pid_t)kid, entry, orig);
		} else if (planted && WSTOPSIG(*st) == SIGTRAP && !(*st >> 16) &&
			   arch_regs_get(pid, &regs) == 0 && arch_bkpt_addr(arch_pc(&regs)) == entry) {
			return unplant(pid, name, entry, orig, &regs, err, errlen) < 0 ? -1 : 1;
		}
		/* -ESRCH: killed while stopped; the next wait says so. */
		if ((r = pass_on(pid, *st)) < 0 && r != -ESRCH)
			goto fail;
	}
fail:
	snprintf(err, errlen, "cannot follow '%s' to its entry point: %s", name, strerror(-r));
	return -1;
}

/* Returns the state letter in /proc/PID/stat ('T': stopped), or '?'. */
static char proc_state(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return '?';
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return '?';
	buf[n] = 0;
	/* comm may contain spaces and parentheses: the last ')' ends it. */
	char *p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : '?';
}

/* Waits, at most STOP_WAIT_S, until the detached child is in its
 * group-stop (state 'T', which the caller's PTRACE_SEIZE must see). Returns
 * 0 once it is; 1 when it has ended instead (reaped); -1 when it did not
 * stop or cannot be waited for. err is filled unless 0. */
static int wait_group_stop(pid_t pid, const char *name, char *err, size_t errlen)
{
	/* The state, not waitpid's report, decides: a SIGSTOP the program got
	 * before its entry point (passed on, then overridden by ptrace) leaves
	 * a stale stop report that waitpid(WUNTRACED) returns at once. The
	 * report is consumed on the way, so nobody meets it later. Polled: a
	 * blocking wait would last as long as the program runs if a SIGCONT
	 * from outside cancelled our SIGSTOP. */
	struct timespec nap = { 0, 20000 }, now, end;
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += STOP_WAIT_S;
	for (;;) {
		int st;
		pid_t w = waitpid(pid, &st, WUNTRACED | WNOHANG);
		if (w == pid && !WIFSTOPPED(st)) {
			say_ended(err, errlen, name, st, "at its entry point");
			return 1;
		}
		if (w < 0 && errno != EINTR) {
			snprintf(err, errlen, "cannot wait for '%s': %s", name, strerror(errno));
			return -1;
		}
		if (proc_state(pid) == 'T')
			return 0;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > end.tv_sec || (now.tv_sec == end.tv_sec && now.tv_nsec >= end.tv_nsec))
			break;
		nanosleep(&nap, NULL);
		if (nap.tv_nsec < 10000000)
			nap.tv_nsec *= 2;
	}
	snprintf(err, errlen, "'%s' did not stop at its entry point within %d s", name, STOP_WAIT_S);
	return -1;
}

pid_t launch_program(char *const argv[], char *err, size_t errlen)
{
	if (!argv || !argv[0] || !argv[0][0]) {
		snprintf(err, errlen, "no program given after '--'");
		return -1;
	}
	const char *name = argv[0];
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "cannot start '%s': pipe: %s", name, strerror(errno));
		return -1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(err, errlen, "cannot start '%s': fork: %s", name, strerror(errno));
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	if (pid == 0)
		child(argv, pfd[1]);
	close(pfd[1]);

	int st;
	bool execed;
	int r = run_to_entry(pid, name, &st, &execed, err, errlen);
	if (r == 0) {
		/* Ended, and reaped. If it never got to exec, the pipe says why;
		 * its write end is closed now, so this read cannot block. */
		struct child_failure f;
		if (!execed && read(pfd[0], &f, sizeof(f)) == sizeof(f))
			snprintf(err, errlen, f.step == CHILD_EXEC ? "cannot run '%s': %s" :
				 "cannot trace '%s' (PTRACE_TRACEME): %s", name, strerror(f.err));
		else
			say_ended(err, errlen, name, st, execed ? "before its entry point" : "before it could start");
	}
	close(pfd[0]);
	if (r == 0)
		return -1;
	if (r < 0)
		goto kill;

	/* A signal handed to PTRACE_DETACH is dropped when the child is in an
	 * event stop (a static program at its exec stop); a queued SIGSTOP is
	 * never dropped, and is the first thing the untraced child handles. */
	if (kill(pid, SIGSTOP) < 0 || ptrace(PTRACE_DETACH, pid, 0, 0) < 0) {
		snprintf(err, errlen, "cannot leave '%s' stopped at its entry point: %s", name, strerror(errno));
		goto kill;
	}
	r = wait_group_stop(pid, name, err, errlen);
	if (r == 0)
		return pid;
	if (r > 0)
		return -1;	/* ended, already reaped: its pid may be reused */
kill:
	kill_reap(pid);
	return -1;
}
