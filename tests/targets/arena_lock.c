/* arena_lock: threads that are inside glibc's allocator, blocked on its
 * lock, while a tool attaches and while it detaches.
 *
 * Usage: arena_lock
 * With M_ARENA_MAX 1 every thread shares glibc's main arena and its lock.
 * A jam is made in two steps: thread "holder" calls malloc_stats(), which
 * holds the arena lock while it writes to stderr, and stderr is a pipe
 * that is full, so the write blocks with the lock held; then thread
 * "waiter" calls malloc(64 KiB) and thread "freer" free(64 KiB block),
 * which block on that lock inside the allocator (64 KiB: past the
 * per-thread cache, under the mmap threshold). The main thread checks in
 * /proc/self/task/TID/syscall that each one sits in the system call it
 * should (write, futex, futex) before going on.
 *   1. jam, then "ready PID" (a tool attaches with all three inside);
 *   2. SIGUSR1: clear the jam (drain the pipe), leak at site leak_between
 *      (3 x 4096 bytes, which the waiter's and freer's blocks are not),
 *      jam again, print "jammed" (a tool that hooked malloc while attached
 *      has the waiter inside its hook now, and can be told to detach);
 *   3. SIGUSR1: clear the jam; print the site line, one "FAIL ..." line
 *      per block whose bytes were wrong or per call that did not return,
 *      and "done".
 * On SIGTERM: exit 0, or 1 if anything failed. Nothing that runs while
 * the lock is held allocates: lines go out through write(2).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <malloc.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include "target.h"

#define BLOCK (64 * 1024)

static int jam[2], err_fd;
static atomic_int go, done_hold, done_alloc, done_free;
static atomic_int tid_hold, tid_alloc, tid_free;
static void *to_free[3], *got[3];
static int failures;

/* Writes one line with write(2) alone: no stdio buffer is allocated. */
static void line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void line(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof buf - 1)
		n = sizeof buf - 1;
	if (write(1, buf, (size_t)n) < 0)
		_exit(96);
}

/* Waits, without allocating, until *flag reaches at least v. */
static void await(atomic_int *flag, int v)
{
	while (atomic_load(flag) < v)
		sleep_ms(1);
}

static NOINLINE void hold_arena(void)
{
	malloc_stats();
}

static NOINLINE void *wait_in_malloc(size_t n)
{
	void *p = malloc(n);
	use_ptr(p);
	return p;
}

static NOINLINE void wait_in_free(void *p)
{
	free(p);
	use_ptr(p);
}

static void *holder(void *a)
{
	atomic_store(&tid_hold, (int)syscall(SYS_gettid));
	for (int r = 1; r <= 2; r++) {
		await(&go, 2 * r - 1);
		hold_arena();
		atomic_store(&done_hold, r);
	}
	return a;
}

static void *waiter(void *a)
{
	atomic_store(&tid_alloc, (int)syscall(SYS_gettid));
	for (int r = 1; r <= 2; r++) {
		await(&go, 2 * r);
		got[r] = wait_in_malloc(BLOCK);
		if (got[r])
			memset(got[r], 0x40 + r, BLOCK);
		atomic_store(&done_alloc, r);
	}
	return a;
}

static void *freer(void *a)
{
	atomic_store(&tid_free, (int)syscall(SYS_gettid));
	for (int r = 1; r <= 2; r++) {
		await(&go, 2 * r);
		wait_in_free(to_free[r]);
		atomic_store(&done_free, r);
	}
	return a;
}

/* Whether thread tid is in system call nr, as /proc/self/task/TID/syscall
 * says (its first field; "running" or -1 otherwise). */
static int in_syscall(int tid, long nr)
{
	char path[64], buf[64];
	snprintf(path, sizeof path, "/proc/self/task/%d/syscall", tid);
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	return strtol(buf, NULL, 10) == nr && buf[0] != 'r';
}

/* Waits (up to 10 s) until thread tid sits in system call nr. */
static void await_syscall(atomic_int *tid, long nr, const char *who)
{
	await(tid, 1);
	for (int i = 0; i < 10000; i++) {
		if (in_syscall(atomic_load(tid), nr))
			return;
		sleep_ms(1);
	}
	dprintf(err_fd, "arena_lock: the %s thread never blocked in system call %ld\n", who, nr);
	_exit(95);
}

/* Fills the pipe behind stderr, so that the next write to it blocks. */
static void fill_jam(void)
{
	static char zeros[4096];
	fcntl(jam[1], F_SETFL, O_NONBLOCK);
	while (write(jam[1], zeros, sizeof zeros) > 0)
		;
	while (write(jam[1], zeros, 1) > 0)
		;
	fcntl(jam[1], F_SETFL, 0);
}

/* Round r's jam: the holder takes the lock and blocks, then the waiter and
 * the freer block on it. */
static void make_jam(int r)
{
	fill_jam();
	atomic_store(&go, 2 * r - 1);
	await_syscall(&tid_hold, SYS_write, "holder");
	atomic_store(&go, 2 * r);
	await_syscall(&tid_alloc, SYS_futex, "waiter");
	await_syscall(&tid_free, SYS_futex, "freer");
}

/* Drains the pipe until round r's three calls have returned (up to 20 s). */
static void clear_jam(int r)
{
	static char sink[65536];
	fcntl(jam[0], F_SETFL, O_NONBLOCK);
	for (int i = 0; i < 20000; i++) {
		while (read(jam[0], sink, sizeof sink) > 0)
			;
		if (atomic_load(&done_hold) >= r && atomic_load(&done_alloc) >= r &&
		    atomic_load(&done_free) >= r)
			return;
		sleep_ms(1);
	}
	line("FAIL round %d: calls still blocked 20 s after the jam was cleared"
	     " (holder %d waiter %d freer %d)\n", r, done_hold, done_alloc, done_free);
	failures++;
}

static NOINLINE void leak_between(void)
{
	for (int i = 0; i < 3; i++)
		touch(malloc(4096), 4096);
}

/* Checks round r's block from the waiter: every byte as it wrote it. */
static void check_block(int r)
{
	unsigned char *p = got[r];
	if (!p) {
		line("FAIL round %d: malloc returned NULL\n", r);
		failures++;
		return;
	}
	for (size_t i = 0; i < BLOCK; i++)
		if (p[i] != 0x40 + r) {
			line("FAIL round %d: byte %zu of the block is %#x\n", r, i, p[i]);
			failures++;
			return;
		}
}

int main(void)
{
	pthread_t th[3];
	block_protocol_signals();
	mallopt(M_ARENA_MAX, 1);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (pipe(jam) < 0 || (err_fd = dup(2)) < 0 || dup2(jam[1], 2) < 0) {
		perror("arena_lock: pipe");
		return 2;
	}
	/* threads first: creating one allocates */
	pthread_create(&th[0], NULL, holder, NULL);
	pthread_create(&th[1], NULL, waiter, NULL);
	pthread_create(&th[2], NULL, freer, NULL);
	to_free[1] = malloc(BLOCK);
	make_jam(1);
	line("ready %d\n", (int)getpid());

	wait_signal(SIGUSR1);
	clear_jam(1);
	check_block(1);
	free(got[1]);
	leak_between();
	to_free[2] = malloc(BLOCK);
	make_jam(2);
	line("jammed\n");

	wait_signal(SIGUSR1);
	clear_jam(2);
	check_block(2);
	free(got[2]);
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	dup2(err_fd, 2);
	site_line("leak_between", 3, 3 * 4096, 0);
	say("done\n");
	wait_signal(SIGTERM);
	return failures ? 1 : 0;
}
