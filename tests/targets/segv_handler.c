/* segv_handler: a JVM-like process that uses SIGSEGV on purpose.
 *
 * Usage: segv_handler [FAULTS_PER_SEC_PER_THREAD (200)] [THREADS (3)]
 * A SIGSEGV handler (sigaction, SA_SIGINFO) recovers from deliberate faults
 * (a store into a PROT_NONE page) with siglongjmp, and checks that each
 * siginfo is the genuine one: si_signo SIGSEGV, si_code SEGV_ACCERR, si_addr
 * the faulting address. Worker threads fault at the given rate from start
 * to SIGTERM, so faults happen while leaktrap attaches and detaches.
 * Every 8th iteration a worker also raises SIGTRAP at itself (a SIGTRAP
 * that is not the tool's, which a tracer must pass on), and four iterations
 * later executes a breakpoint instruction of its own (int3, brk #7: the
 * kind of trap the tool's stubs stop on); a handler counts each kind.
 * After SIGUSR1 each worker does 200 more iterations of fault +
 * leak_between_faults (leaks 64 bytes) + fault_churn (malloc/free), then
 * the truth and "done" are printed. On SIGTERM it prints
 *   faults attempted A handled H bad B unexpected U
 * and exits 0 only if every attempted fault was handled with a correct
 * siginfo (A == H, B == 0, U == 0), 1 otherwise.
 */
#include <setjmp.h>
#include <ucontext.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include "target.h"

#define ITERS 200
#define LEAK_SIZE 64
#define MAXT 16

static char *fault_page;
static atomic_long attempted, handled, bad, unexpected, traps_raised, traps_handled;
static atomic_long bkpts_hit, bkpts_handled;
static __thread volatile int in_bkpt;
static atomic_int phase;          /* 0 faults only, 1 measured, 2 faults only */
static atomic_int finished, stop;
static __thread sigjmp_buf jb;
static __thread volatile int in_fault;
static __thread volatile char *expect_addr;
static void *kept[MAXT][ITERS];
static int line_leak;

static void on_segv(int sig, siginfo_t *si, void *uc)
{
	if (!in_fault) {
		static const char m[] = "segv_handler: SIGSEGV outside a deliberate fault\n";
		write(2, m, sizeof m - 1);
		atomic_fetch_add(&unexpected, 1);
		_exit(95);
	}
	if (sig != SIGSEGV || si->si_signo != SIGSEGV || si->si_code != SEGV_ACCERR ||
	    (char *)si->si_addr != expect_addr)
		atomic_fetch_add(&bad, 1);
	else
		atomic_fetch_add(&handled, 1);
	siglongjmp(jb, 1);
}

/* Executes a breakpoint instruction of the program's own: on_trap must
 * see it, with the kernel's siginfo. */
static void own_breakpoint(void)
{
	atomic_fetch_add(&bkpts_hit, 1);
	in_bkpt = 1;
#if defined(__x86_64__)
	__asm__ volatile("int3" ::: "memory");
#elif defined(__aarch64__)
	__asm__ volatile("brk #7" ::: "memory");
#else
#error "own_breakpoint: no breakpoint instruction for this architecture"
#endif
	in_bkpt = 0;
}

static void on_trap(int sig, siginfo_t *si, void *uc)
{
	if (sig == SIGTRAP && si->si_code == SI_TKILL && si->si_pid == getpid()) {
		atomic_fetch_add(&traps_handled, 1);
	} else if (sig == SIGTRAP && in_bkpt && si->si_code != SI_TKILL && si->si_code != SI_USER) {
		atomic_fetch_add(&bkpts_handled, 1);
#if defined(__aarch64__)
		((ucontext_t *)uc)->uc_mcontext.pc += 4;	/* the pc stays on a brk */
#endif
	} else {
		atomic_fetch_add(&bad, 1);
	}
}

NOINLINE void do_fault(unsigned k)
{
	atomic_fetch_add(&attempted, 1);
	expect_addr = fault_page + (k % 512) * 8;
	in_fault = 1;
	if (sigsetjmp(jb, 1) == 0) {
		*(volatile long *)expect_addr = 1;
		/* not reached: the store faults */
		in_fault = 0;
		say("FAIL store into PROT_NONE page did not fault\n");
		exit(1);
	}
	in_fault = 0;
}

NOINLINE void leak_between_faults(int t, int i)
{
	void *p = malloc(LEAK_SIZE); line_leak = __LINE__;
	touch(p, LEAK_SIZE);
	kept[t][i] = p;
}

NOINLINE void fault_churn(uint64_t *seed)
{
	size_t n = 1 + rnd(seed) % 512;
	void *p = malloc(n);
	touch(p, n);
	free(p);
}

static long period_us;

static void *worker(void *arg)
{
	int t = (int)(long)arg;
	uint64_t seed = 77 + t;
	int done_iters = 0;
	for (unsigned k = 0; !atomic_load(&stop); k++) {
		int ph = atomic_load(&phase);
		do_fault(k);
		if (k % 8 == 0) {
			atomic_fetch_add(&traps_raised, 1);
			raise(SIGTRAP);
		}
		if (k % 8 == 4)
			own_breakpoint();
		if (ph == 1 && done_iters < ITERS) {
			leak_between_faults(t, done_iters);
			fault_churn(&seed);
			if (++done_iters == ITERS)
				atomic_fetch_add(&finished, 1);
		}
		struct timespec ts = { 0, period_us * 1000 };
		nanosleep(&ts, NULL);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	long rate = argc > 1 ? atol(argv[1]) : 200;
	int nt = argc > 2 ? atoi(argv[2]) : 3;
	if (rate < 1 || rate > 100000 || nt < 1 || nt > MAXT) {
		fprintf(stderr, "usage: segv_handler [FAULTS_PER_SEC 1..100000] [THREADS 1..%d]\n", MAXT);
		return 2;
	}
	period_us = 1000000 / rate;

	fault_page = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (fault_page == MAP_FAILED)
		return 99;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSEGV, &sa, NULL))
		return 99;
	sa.sa_sigaction = on_trap;
	if (sigaction(SIGTRAP, &sa, NULL))
		return 99;

	block_protocol_signals();
	pthread_t th[MAXT];
	for (long i = 0; i < nt; i++)
		if (pthread_create(&th[i], NULL, worker, (void *)i))
			return 99;
	announce_ready();
	wait_signal(SIGUSR1);
	atomic_store(&phase, 1);
	while (atomic_load(&finished) < nt)
		sleep_ms(5);
	atomic_store(&phase, 2);

	site_line("leak_between_faults", (long)nt * ITERS, (long)nt * ITERS * LEAK_SIZE, line_leak);
	bound_line("fault_churn", nt, nt * 512L);
	say("faults so far %ld handled %ld\n", atomic_load(&attempted), atomic_load(&handled));
	say("done\n");

	wait_signal(SIGTERM);
	atomic_store(&stop, 1);
	for (int i = 0; i < nt; i++)
		pthread_join(th[i], NULL);
	long a = atomic_load(&attempted), h = atomic_load(&handled);
	long b = atomic_load(&bad), u = atomic_load(&unexpected);
	long tr = atomic_load(&traps_raised), th_ = atomic_load(&traps_handled);
	say("faults attempted %ld handled %ld bad %ld unexpected %ld\n", a, h, b, u);
	long bh = atomic_load(&bkpts_hit), bk = atomic_load(&bkpts_handled);
	say("traps raised %ld handled %ld\n", tr, th_);
	say("breakpoints hit %ld handled %ld\n", bh, bk);
	use_ptr(kept);
	return (a == h && b == 0 && u == 0 && a > 0 && tr == th_ && bh == bk && bh > 0) ? 0 : 1;
}
