/* pre_entry: a program that acts before its entry point, for test_launch.
 * It does not speak the protocol of target.h: it only runs code from
 * .preinit_array, which ld.so calls (with argc, argv, envp) before it jumps
 * to the program's entry point, i.e. while `leaktrap -- pre_entry` is still
 * running it up to there.
 *
 * Usage: pre_entry MODE
 *   signals  raise SIGUSR1 and SIGUSR2 (handled) and SIGSTOP before the
 *            entry point; main exits 40 + the number of handlers run (42)
 *   exit     _exit(3) before the entry point
 *   term     raise SIGTERM (default action: killed) before the entry point
 *   exec     exec itself as `pre_entry signals` before the entry point
 *   fork     fork before the entry point; the child goes on to main too and
 *            exits 7; the parent exits 42 if it did, 40 if not (a child that
 *            ran into a breakpoint left at the entry point dies of SIGTRAP)
 *   (none)   nothing early; main exits 0
 */
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

static volatile sig_atomic_t handled;
static pid_t forked = -1;	/* fork mode: fork()'s result */

static void on_signal(int sig) { (void)sig; handled++; }

/* Runs from ld.so's _dl_init, before the entry point. Only system call
 * wrappers: libc's own initialisation may not have run yet. */
static void early(int argc, char **argv, char **envp)
{
	const char *mode = argc > 1 ? argv[1] : "";
	if (!strcmp(mode, "signals")) {
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_signal;
		sigaction(SIGUSR1, &sa, NULL);
		sigaction(SIGUSR2, &sa, NULL);
		raise(SIGUSR1);
		raise(SIGUSR2);
		raise(SIGSTOP);
	} else if (!strcmp(mode, "exit")) {
		_exit(3);
	} else if (!strcmp(mode, "term")) {
		raise(SIGTERM);
	} else if (!strcmp(mode, "fork")) {
		forked = fork();
	} else if (!strcmp(mode, "exec")) {
		char *args[] = { argv[0], "signals", NULL };
		execve("/proc/self/exe", args, envp);
		_exit(99);
	}
}

__attribute__((section(".preinit_array"), used))
static void (*const early_ptr)(int, char **, char **) = early;

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	if (!strcmp(mode, "fork")) {
		int st;
		if (forked == 0)
			return 7;
		if (forked < 0 || waitpid(forked, &st, 0) != forked)
			return 99;
		return WIFEXITED(st) && WEXITSTATUS(st) == 7 ? 42 : 40;
	}
	return !strcmp(mode, "signals") ? 40 + handled : 0;
}
