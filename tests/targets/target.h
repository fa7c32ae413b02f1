/* target.h: the protocol every leaktrap test target speaks, and the truth it
 * prints.  Included by the targets in this directory only (the Makefile does
 * not track it as a dependency: after editing it, rebuild with `make -B`).
 *
 * Protocol, as the e2e scripts in tests/e2e/ expect it:
 *   1. set up (threads, buffers, stdio), then print "ready PID" on stdout;
 *   2. wait for SIGUSR1 (the test sends it once leaktrap says "hooks active");
 *   3. do the measured work: leak at named sites, churn that frees everything;
 *   4. print one "site"/"bound" line per named site, then "done";
 *   5. keep running until SIGTERM, then exit 0 (or the documented status).
 *
 * Truth lines (parsed by tests/e2e/report_check.py):
 *   site NAME count C bytes B [line L]   exactly C live allocations, B live
 *                                         bytes whose innermost named frame
 *                                         is NAME (C = 0: none at all); L is
 *                                         the source line, in NAME, of the
 *                                         call that leads to the allocation
 *   bound NAME count C bytes B            at most C allocations / B bytes
 *                                         (code still churning while the
 *                                         report is taken)
 * Every line is flushed at once: the test reads stdout from a file.
 */
#ifndef LT_TARGET_H
#define LT_TARGET_H

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))

/* A pause that gives leaktrap time to act: ms, times LT_TARGET_SLOW (the
 * arm64 VM, where leaktrap runs some ten times slower). */
static inline long slow_ms(long ms)
{
	const char *p = getenv("LT_TARGET_SLOW");
	int k = p ? atoi(p) : 1;
	return k > 1 ? ms * k : ms;
}

/* Rounds of a churn loop: n, or LT_TARGET_CHURN percent of it (the arm64
 * VM, where every recorded event costs some twenty times as much). A churn
 * frees all it allocates: no truth depends on how long it runs. */
static inline int churn_rounds(int n)
{
	const char *p = getenv("LT_TARGET_CHURN");
	int pct = p ? atoi(p) : 100;
	return pct > 0 && pct < 100 ? n * pct / 100 + 1 : n;
}

/* The pause between two bursts of a churn that runs as long as the target
 * does: ms, or a hundred times longer where churn_rounds shortens loops
 * (there leaktrap reads about one event per millisecond, and the threads
 * whose truth is checked must not queue behind the churn). */
static inline long churn_pause_ms(long ms)
{
	return churn_rounds(100) < 100 ? ms * 100 : ms;
}

/* A compiler barrier that makes a pointer "used", so no allocation is ever
 * optimised away and no malloc call becomes a tail call. */
static inline void use_ptr(void *p)
{
	__asm__ __volatile__("" : : "r"(p) : "memory");
}

/* Touches every page of [p, p+n) and keeps p alive. */
static inline void touch(void *p, size_t n)
{
	if (!p) {
		fprintf(stderr, "target: allocation of %zu bytes failed\n", n);
		exit(98);
	}
	if (n)
		memset(p, 0xa5, n);
	use_ptr(p);
}

/* xorshift64*: deterministic, per-thread state, no locks. */
static inline uint64_t rnd(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 2685821657736338717ULL;
}

static inline double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static inline void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
}

/* Blocks SIGUSR1 and SIGTERM in the calling thread (call it in main before
 * creating threads, so every thread inherits the mask and only sigwait()
 * receives them). */
static inline void block_protocol_signals(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
}

/* Waits until sig arrives (it must be blocked); other signals of the set are
 * remembered: a SIGTERM that comes before SIGUSR1 makes the target exit 97. */
static inline void wait_signal(int sig)
{
	sigset_t set;
	int got = 0;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGTERM);
	for (;;) {
		if (sigwait(&set, &got))
			continue;
		if (got == sig)
			return;
		if (got == SIGTERM) {
			say("target: SIGTERM before SIGUSR1\n");
			exit(97);
		}
		/* a second SIGUSR1 is ignored */
	}
}

/* Returns the protocol signal (SIGUSR1, SIGTERM) that is pending, or 0,
 * without waiting: for a main thread that has work of its own meanwhile. */
static inline int poll_protocol_signal(void)
{
	sigset_t set;
	struct timespec zero = { 0, 0 };
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGTERM);
	int s = sigtimedwait(&set, NULL, &zero);
	return s > 0 ? s : 0;
}

/* Stdio buffers are allocated at first use; make that happen before
 * "ready" so it is not counted as a leak of the measured phase. */
static inline void announce_ready(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	say("ready %d\n", (int)getpid());
}

static inline void site_line(const char *name, long count, long bytes, int line)
{
	if (line > 0)
		say("site %s count %ld bytes %ld line %d\n", name, count, bytes, line);
	else
		say("site %s count %ld bytes %ld\n", name, count, bytes);
}

static inline void bound_line(const char *name, long count, long bytes)
{
	say("bound %s count %ld bytes %ld\n", name, count, bytes);
}

#endif
