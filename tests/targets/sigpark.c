/* sigpark: a signal handler that interrupted a thread inside a tool's code
 * stays running while the tool detaches.
 *
 * Usage: sigpark [THREADS (4)] [entry|tramp]
 * Worker threads malloc/free small blocks in a loop, and the main thread
 * sends each of them SIGUSR2 every 100 us. The handler looks at the pc the
 * signal interrupted: if it lies outside the executable segments of every
 * object the process had before "ready" (dl_iterate_phdr, the vDSO
 * included), it is in code a tool mapped since, and the first such handler
 * parks there. With "entry" it parks instead where the pc lies in the first
 * bytes of malloc after its first instruction (malloc+1 .. malloc+4, which
 * an x86-64 branch patch would cover), from the start: "ready" comes once
 * one has parked. Some CPUs never take an interrupt at those few
 * instructions, so on x86-64 one more thread also single-steps (EFLAGS.TF)
 * into malloc, and its SIGTRAP handler, which interrupted malloc's first
 * instruction by construction, parks the same way. With "tramp" it parks
 * only where the pc lies in new code whose next 4 bytes copy one of the
 * first two words of malloc or free: the
 * start of a tool's trampoline (on x86-64 it may also be a stub's copy of
 * those bytes). A parked handler prints "parked tid T pc P" and stays in
 * the handler (nanosleep) until SIGUSR1, which also ends parking for good. Returning
 * from that handler then resumes the interrupted code, wherever it is now:
 * if it was unmapped, the process dies of SIGSEGV. On SIGTERM it prints
 *   ops N signals S parked K
 * and exits 0 (SIGTERM before SIGUSR1: 97).
 */
#define _GNU_SOURCE		/* dl_iterate_phdr */
#include <link.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include "target.h"

#define MAXT 16
#define MAXSEG 256

static struct { uintptr_t lo, hi; } seg[MAXSEG];
static int nseg;
static atomic_int release, parked, stop;
static uintptr_t park_lo, park_hi;	/* "entry": park for a pc in [lo, hi) */
static uint32_t entry_words[4];		/* "tramp": malloc's and free's first two words */
static int tramp;
static atomic_long ops, signals;

/* dl_iterate_phdr callback: notes the executable segments of one object. */
static int note_object(struct dl_phdr_info *info, size_t size, void *arg)
{
	for (int i = 0; i < info->dlpi_phnum && nseg < MAXSEG; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
			seg[nseg].lo = info->dlpi_addr + ph->p_vaddr;
			seg[nseg].hi = seg[nseg].lo + ph->p_memsz;
			nseg++;
		}
	}
	return 0;
}

/* Whether pc lies in code the process had at start. */
static int known_code(uintptr_t pc)
{
	for (int i = 0; i < nseg; i++)
		if (pc >= seg[i].lo && pc < seg[i].hi)
			return 1;
	return 0;
}

/* Whether the 4 bytes at pc (mapped: it was just running there) copy one of
 * entry_words. */
static int copies_entry(uintptr_t pc)
{
	uint32_t w;
	memcpy(&w, (const void *)pc, 4);
	for (int i = 0; i < 4; i++)
		if (w == entry_words[i])
			return 1;
	return 0;
}

/* Writes "parked tid T pc 0xP" with write(2) alone (async-signal-safe). */
static void say_parked(long tid, uintptr_t pc)
{
	char buf[80], *p = buf + sizeof(buf);
	*--p = '\n';
	do { *--p = "0123456789abcdef"[pc & 15]; pc >>= 4; } while (pc);
	p -= 2; memcpy(p, "0x", 2);
	p -= 4; memcpy(p, " pc ", 4);
	do { *--p = (char)('0' + tid % 10); tid /= 10; } while (tid);
	p -= 11; memcpy(p, "parked tid ", 11);
	write(1, p, (size_t)(buf + sizeof(buf) - p));
}

static void on_usr2(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
#if defined(__x86_64__)
	uintptr_t pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
	uintptr_t pc = (uintptr_t)uc->uc_mcontext.pc;
#else
#error "sigpark: no interrupted pc for this architecture"
#endif
	atomic_fetch_add(&signals, 1);
	if (atomic_load(&release) || (park_hi ? pc < park_lo || pc >= park_hi : known_code(pc)) ||
	    (tramp && !copies_entry(pc)))
		return;
	int no = 0;
	if (!atomic_compare_exchange_strong(&parked, &no, 1))
		return;
	say_parked(syscall(SYS_gettid), pc);
	while (!atomic_load(&release)) {
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
}

#if defined(__x86_64__)
/* "entry": the single-step trap that lands in [park_lo, park_hi) stops the
 * stepping and parks; the traps before it (the call, the PLT) go on. */
static void on_trap(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	uintptr_t pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
	if (pc < park_lo || pc >= park_hi)
		return;
	uc->uc_mcontext.gregs[REG_EFL] &= ~0x100L;	/* TF: no more steps after return */
	int no = 0;
	if (atomic_load(&release) || !atomic_compare_exchange_strong(&parked, &no, 1))
		return;
	say_parked(syscall(SYS_gettid), pc);
	while (!atomic_load(&release)) {
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
}

/* Calls malloc with the trap flag set (a call, so no red zone is in use
 * below %rsp for pushf), frees the block and ends. */
static void *stepper(void *arg)
{
	void *(*volatile m)(size_t) = malloc;
	__asm__ volatile("pushf; orl $0x100, (%%rsp); popf" ::: "memory", "cc");
	void *p = m(64);
	free(p);
	return arg;
}

/* Starts the stepper thread, with its SIGTRAP handler; returns 0 or -1. */
static int start_stepper(void)
{
	struct sigaction sa;
	pthread_t t;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_trap;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTRAP, &sa, NULL) || pthread_create(&t, NULL, stepper, NULL))
		return -1;
	return pthread_detach(t) ? -1 : 0;
}
#else
static int start_stepper(void) { return 0; }
#endif

NOINLINE void sigpark_work(uint64_t *seed)
{
	size_t n = 1 + rnd(seed) % 512;
	void *p = malloc(n);
	touch(p, n);
	free(p);
}

static void *worker(void *arg)
{
	uint64_t seed = 99 + (uintptr_t)arg;
	while (!atomic_load(&stop)) {
		sigpark_work(&seed);
		atomic_fetch_add_explicit(&ops, 1, memory_order_relaxed);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int nt = argc > 1 ? atoi(argv[1]) : 4;
	if (nt < 1 || nt > MAXT || (argc > 2 && strcmp(argv[2], "entry") && strcmp(argv[2], "tramp"))) {
		fprintf(stderr, "usage: sigpark [THREADS 1..%d] [entry|tramp]\n", MAXT);
		return 2;
	}
	if (argc > 2 && !strcmp(argv[2], "tramp")) {
		void *(*volatile m)(size_t) = malloc;	/* libc's, through the GOT */
		void (*volatile f)(void *) = free;
		memcpy(entry_words, (const void *)m, 8);
		memcpy(entry_words + 2, (const void *)f, 8);
		tramp = 1;
	} else if (argc > 2) {
		void *(*volatile m)(size_t) = malloc;	/* libc's, through the GOT */
		park_lo = (uintptr_t)m + 1;
		park_hi = (uintptr_t)m + 5;
	}
	dl_iterate_phdr(note_object, NULL);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_usr2;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR2, &sa, NULL))
		return 99;
	block_protocol_signals();
	pthread_t th[MAXT];
	for (long i = 0; i < nt; i++)
		if (pthread_create(&th[i], NULL, worker, (void *)i))
			return 99;
	if (park_hi && start_stepper() < 0)
		return 99;
	for (int waited = 0; park_hi && !atomic_load(&parked); waited++) {
		if (waited == 40000) {
			say("FAIL no handler interrupted malloc+1..4 in 40 s\n");
			return 98;
		}
		for (int i = 0; i < nt; i++)
			pthread_kill(th[i], SIGUSR2);
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	announce_ready();
	int got_usr1 = 0;
	for (;;) {
		int s = poll_protocol_signal();
		if (s == SIGUSR1) {
			got_usr1 = 1;
			atomic_store(&release, 1);
		} else if (s == SIGTERM) {
			break;
		}
		for (int i = 0; i < nt; i++)
			pthread_kill(th[i], SIGUSR2);
		struct timespec ts = { 0, 100000 };
		nanosleep(&ts, NULL);
	}
	if (!got_usr1) {
		say("target: SIGTERM before SIGUSR1\n");
		return 97;
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < nt; i++)
		pthread_join(th[i], NULL);
	say("ops %ld signals %ld parked %d\n", atomic_load(&ops), atomic_load(&signals), atomic_load(&parked));
	return 0;
}
