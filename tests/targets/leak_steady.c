/* leak_steady: one steady leak among churn, a cache that shrinks, and one
 * big buffer that is freed later: the case `leaks` and `diff` exist for.
 *
 * Usage: leak_steady
 * From start to exit, 3 churn_worker threads malloc/free small blocks that
 * live a few milliseconds. After SIGUSR1 (t = 0):
 *   t = 0        cache_fill allocates 256 x 16 KiB (4 MiB) and keeps them;
 *                big_buffer allocates one 24 MiB block;
 *   t = 0 .. end leak_steady leaks 4 KiB every 10 ms (~400 KiB/s), forever;
 *   t = 5 s      big_buffer's block is freed, and half of the cache
 *                (cache_trim: the first 128 blocks);
 * then it prints its truth lines and "done" (at t = 5 s) and runs on, still
 * leaking, until SIGTERM: exit 0.
 * Truth: leak_steady is the only leak; cache_fill shrinks at t = 5 s;
 * big_buffer is gone after t = 5 s.
 */
#include "target.h"

#define NCHURN 3
#define CACHE_N 256
#define CACHE_SIZE (16 * 1024)
#define BIG_SIZE (24 << 20)
#define LEAK_SIZE 4096

static void *cache[CACHE_N];
static void *big;
static volatile long leaked;

NOINLINE void cache_fill(void)
{
	for (int i = 0; i < CACHE_N; i++) {
		cache[i] = malloc(CACHE_SIZE);
		touch(cache[i], CACHE_SIZE);
	}
}

NOINLINE void cache_trim(void)
{
	for (int i = 0; i < CACHE_N / 2; i++) {
		free(cache[i]);
		cache[i] = NULL;
	}
}

NOINLINE void big_buffer(void)
{
	big = malloc(BIG_SIZE);
	touch(big, BIG_SIZE);
}

NOINLINE void leak_steady(void)
{
	void *p = malloc(LEAK_SIZE);
	touch(p, LEAK_SIZE);
	leaked++;
}

/* Leaks at a steady pace once started. */
static void *leaker(void *arg)
{
	for (;;) {
		leak_steady();
		sleep_ms(10);
	}
	return NULL;
}

NOINLINE void churn_step(void **slots, uint64_t *seed)
{
	unsigned i = rnd(seed) % 8;
	size_t n = 16 + rnd(seed) % 2048;
	free(slots[i]);
	slots[i] = malloc(n);
	touch(slots[i], n);
}

NOINLINE void *churn_worker(void *arg)
{
	void *slots[8] = { 0 };
	uint64_t seed = 0x9e3779b9ULL + (uintptr_t)arg * 104729;
	for (unsigned long k = 0;; k++) {
		churn_step(slots, &seed);
		if (k % 100 == 0)
			sleep_ms(1);
	}
	return NULL;
}

int main(void)
{
	pthread_t t[NCHURN], l;
	block_protocol_signals();
	for (long i = 0; i < NCHURN; i++)
		if (pthread_create(&t[i], NULL, churn_worker, (void *)i))
			return 99;
	announce_ready();
	wait_signal(SIGUSR1);
	cache_fill();
	big_buffer();
	if (pthread_create(&l, NULL, leaker, NULL))
		return 99;
	sleep_ms(5000);
	free(big);
	cache_trim();
	say("site cache_fill count %d bytes %ld\n", CACHE_N / 2, (long)CACHE_N / 2 * CACHE_SIZE);
	say("site big_buffer count 0 bytes 0\n");
	bound_line("leak_steady", leaked + 1000, (leaked + 1000) * LEAK_SIZE);
	say("done\n");
	wait_signal(SIGTERM);
	return 0;
}
