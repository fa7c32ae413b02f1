/* leak_threads: four churning threads and one leaking thread.
 *
 * Usage: leak_threads
 * The 4 churn_worker threads malloc/realloc/free random sizes from start to
 * exit (also while leaktrap attaches, samples and detaches), and hand some
 * blocks to each other through a shared exchange so that frees happen in
 * another thread than the allocation. After SIGUSR1 the leaker thread leaks
 * at three sites: leak_big (200 x 64 KiB), leak_mid (300 x 4 KiB) and
 * leak_small (1000 x 64 B). Churners hold at most 4*(8+1)+16 blocks of at
 * most 1024 bytes at any moment: printed as a "bound" line. SIGTERM: exit 0
 * while the churners are still running.
 */
#include <semaphore.h>
#include "target.h"

#define NCHURN 4
#define SLOTS 8
#define XCHG 16
#define MAXSZ 1024

#define BIG_N 200
#define BIG_SIZE (64 * 1024)
#define MID_N 300
#define MID_SIZE 4096
#define SMALL_N 1000
#define SMALL_SIZE 64

static pthread_mutex_t xlock = PTHREAD_MUTEX_INITIALIZER;
static void *xchg[XCHG];
static sem_t go;
static void *kept[BIG_N + MID_N + SMALL_N];
static int nkept;
static int line_big, line_mid, line_small;

NOINLINE void leak_big(void)
{
	for (int i = 0; i < BIG_N; i++) {
		void *p = malloc(BIG_SIZE); line_big = __LINE__;
		touch(p, BIG_SIZE);
		kept[nkept++] = p;
	}
}

NOINLINE void leak_mid(void)
{
	for (int i = 0; i < MID_N; i++) {
		void *p = malloc(MID_SIZE); line_mid = __LINE__;
		touch(p, MID_SIZE);
		kept[nkept++] = p;
	}
}

NOINLINE void leak_small(void)
{
	for (int i = 0; i < SMALL_N; i++) {
		void *p = malloc(SMALL_SIZE); line_small = __LINE__;
		touch(p, SMALL_SIZE);
		kept[nkept++] = p;
	}
}

static void *leaker(void *arg)
{
	while (sem_wait(&go))
		;
	leak_big();
	leak_small();
	leak_mid();
	return NULL;
}

/* Swaps p into the exchange; returns what was there (a block some other
 * thread may have allocated), or NULL. */
static void *exchange(unsigned slot, void *p)
{
	pthread_mutex_lock(&xlock);
	void *old = xchg[slot];
	xchg[slot] = p;
	pthread_mutex_unlock(&xlock);
	return old;
}

NOINLINE void churn_step(void **slots, uint64_t *seed)
{
	unsigned i = rnd(seed) % SLOTS;
	size_t n = 1 + rnd(seed) % (MAXSZ / 2);
	free(slots[i]);
	void *p = malloc(n);
	touch(p, n);
	if (rnd(seed) % 4 == 0) {
		size_t m = 1 + rnd(seed) % MAXSZ;
		void *q = realloc(p, m);
		touch(q, m);
		p = q;
	}
	if (rnd(seed) % 8 == 0) {
		void *o = exchange(rnd(seed) % XCHG, p);
		free(o);
		p = NULL;
	}
	slots[i] = p;
}

NOINLINE void *churn_worker(void *arg)
{
	void *slots[SLOTS] = { 0 };
	uint64_t seed = 0x1234567ULL + (uintptr_t)arg * 7919;
	unsigned long burst = (unsigned long)churn_rounds(200);
	long pause = churn_pause_ms(1);
	for (unsigned long k = 0;; k++) {
		churn_step(slots, &seed);
		if (k % burst == 0)
			sleep_ms(pause);
	}
	return NULL;
}

int main(void)
{
	pthread_t t[NCHURN], l;
	block_protocol_signals();
	sem_init(&go, 0, 0);
	for (long i = 0; i < NCHURN; i++)
		if (pthread_create(&t[i], NULL, churn_worker, (void *)i)) {
			fprintf(stderr, "leak_threads: pthread_create failed\n");
			return 99;
		}
	if (pthread_create(&l, NULL, leaker, NULL))
		return 99;
	announce_ready();
	wait_signal(SIGUSR1);
	sem_post(&go);
	pthread_join(l, NULL);

	site_line("leak_big", BIG_N, (long)BIG_N * BIG_SIZE, line_big);
	site_line("leak_mid", MID_N, (long)MID_N * MID_SIZE, line_mid);
	site_line("leak_small", SMALL_N, (long)SMALL_N * SMALL_SIZE, line_small);
	bound_line("churn_worker", NCHURN * (SLOTS + 1) + XCHG,
		   (long)(NCHURN * (SLOTS + 1) + XCHG) * MAXSZ);
	say("done\n");

	wait_signal(SIGTERM);
	use_ptr(kept);
	exit(0);
}
