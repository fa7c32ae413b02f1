/* forker: makes children every way libc can while leaktrap is attached.
 *
 * Usage: forker [ROUNDS (10)]
 * After SIGUSR1, each round:
 *   fork()         child mallocs/frees 100000 blocks with an integrity check,
 *                  exits 7 (9 if a block was corrupted); the parent wants
 *                  WIFEXITED && WEXITSTATUS == 7
 *   system("true")                             status 0
 *   popen("echo hi", "r")                      reads "hi\n", pclose status 0
 *   posix_spawn("/bin/true")                   status 0
 *   vfork() + _exit(5)                         status 5
 *   vfork() + execl("/bin/true")               status 0
 * and leak_in_parent leaks one 500-byte block (exact count printed).
 * Any failure is printed as "FAIL <what>: <how>" (e.g. "killed by signal 5
 * (Trace/breakpoint trap)"). Then "children ok" if none failed, the truth and
 * "done". On SIGTERM exits 0 if all went well, 1 otherwise.
 */
#include <spawn.h>
#include <sys/wait.h>
#include "target.h"

extern char **environ;

#define LEAK_SIZE 500
static int failures;
static void *kept[1000];
static int nkept, line_leak;

static void describe(const char *what, int status, int want)
{
	if (WIFEXITED(status) && WEXITSTATUS(status) == want)
		return;
	failures++;
	if (WIFSIGNALED(status))
		say("FAIL %s: killed by signal %d (%s)%s\n", what, WTERMSIG(status),
		    strsignal(WTERMSIG(status)), WCOREDUMP(status) ? ", core dumped" : "");
	else if (WIFEXITED(status))
		say("FAIL %s: exit status %d, wanted %d\n", what, WEXITSTATUS(status), want);
	else
		say("FAIL %s: wait status 0x%x\n", what, status);
}

static void fail_errno(const char *what)
{
	failures++;
	say("FAIL %s: %s\n", what, strerror(errno));
}

/* Runs in the fork child. */
NOINLINE int child_churn(void)
{
	uint64_t seed = 99;
	unsigned char *pool[64] = { 0 };
	size_t sz[64] = { 0 };
	int bad = 0;
	for (int i = 0, rounds = churn_rounds(100000); i < rounds; i++) {
		unsigned s = rnd(&seed) % 64;
		if (pool[s]) {
			for (size_t k = 0; k < sz[s]; k++)
				if (pool[s][k] != (unsigned char)(s + k))
					bad++;
			free(pool[s]);
		}
		sz[s] = 1 + rnd(&seed) % 256;
		pool[s] = malloc(sz[s]);
		if (!pool[s])
			return 9;
		for (size_t k = 0; k < sz[s]; k++)
			pool[s][k] = (unsigned char)(s + k);
	}
	for (int s = 0; s < 64; s++)
		free(pool[s]);
	return bad ? 9 : 7;
}

NOINLINE void leak_in_parent(void)
{
	void *p = malloc(LEAK_SIZE); line_leak = __LINE__;
	touch(p, LEAK_SIZE);
	kept[nkept++] = p;
}

static void round_fork(void)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		return fail_errno("fork");
	if (pid == 0)
		exit(child_churn());
	int st;
	if (waitpid(pid, &st, 0) != pid)
		return fail_errno("waitpid(fork child)");
	describe("fork child", st, 7);
}

static void round_system(void)
{
	int st = system("true");
	if (st == -1)
		return fail_errno("system(\"true\")");
	describe("system(\"true\")", st, 0);
}

static void round_popen(void)
{
	char buf[64] = "";
	FILE *f = popen("echo hi", "r");
	if (!f)
		return fail_errno("popen(\"echo hi\")");
	if (!fgets(buf, sizeof buf, f) || strcmp(buf, "hi\n")) {
		failures++;
		say("FAIL popen(\"echo hi\"): read \"%s\"\n", buf);
	}
	int st = pclose(f);
	if (st == -1)
		return fail_errno("pclose");
	describe("popen(\"echo hi\")", st, 0);
}

static void round_spawn(void)
{
	pid_t pid;
	char *argv[] = { "true", NULL };
	int e = posix_spawn(&pid, "/bin/true", NULL, NULL, argv, environ);
	if (e) {
		errno = e;
		return fail_errno("posix_spawn(/bin/true)");
	}
	int st;
	if (waitpid(pid, &st, 0) != pid)
		return fail_errno("waitpid(posix_spawn)");
	describe("posix_spawn(/bin/true)", st, 0);
}

static void round_vfork(int exec)
{
	pid_t pid = vfork();
	if (pid < 0)
		return fail_errno("vfork");
	if (pid == 0) {
		if (exec) {
			execl("/bin/true", "true", (char *)NULL);
			_exit(127);
		}
		_exit(5);
	}
	int st;
	if (waitpid(pid, &st, 0) != pid)
		return fail_errno("waitpid(vfork)");
	describe(exec ? "vfork+exec(/bin/true)" : "vfork+_exit(5)", st, exec ? 0 : 5);
}

NOINLINE void parent_churn(uint64_t *seed)
{
	for (int i = 0; i < 200; i++) {
		size_t n = 1 + rnd(seed) % 1000;
		void *p = malloc(n);
		touch(p, n);
		free(p);
	}
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 10;
	uint64_t seed = 5;
	if (rounds < 1 || rounds > 1000) {
		fprintf(stderr, "usage: forker [ROUNDS 1..1000]\n");
		return 2;
	}
	block_protocol_signals();
	announce_ready();
	wait_signal(SIGUSR1);

	for (int r = 0; r < rounds; r++) {
		round_fork();
		parent_churn(&seed);
		round_system();
		round_popen();
		leak_in_parent();
		round_spawn();
		round_vfork(0);
		round_vfork(1);
		parent_churn(&seed);
	}
	int st;
	if (waitpid(-1, &st, WNOHANG) > 0) {
		failures++;
		say("FAIL an unexpected child was left to reap\n");
	}
	if (!failures)
		say("children ok\n");
	else
		say("children FAILED: %d failures\n", failures);
	site_line("leak_in_parent", rounds, (long)rounds * LEAK_SIZE, line_leak);
	site_line("parent_churn", 0, 0, 0);
	say("done\n");

	wait_signal(SIGTERM);
	return failures ? 1 : 0;
}
