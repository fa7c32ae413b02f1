/* churn_mt: many threads malloc/calloc/realloc/free small blocks and check
 * every byte of every block before it is freed.
 *
 * Usage:
 *   churn_mt [THREADS (8)]                  churn until SIGTERM
 *   churn_mt THREADS SECONDS                churn for SECONDS, then exit
 *   churn_mt THREADS iters N [wait]         each thread does N operations;
 *                                           prints its wall time and exits.
 *                                           With "wait", waits for SIGUSR1
 *                                           after "ready" before starting
 *                                           (so a tool can attach first).
 * Prints "ready PID" once the threads run. At the end it frees (and checks)
 * everything and prints
 *   ops N errors E
 * and in iters mode also
 *   threads T iters N wall_s W ns_per_op X
 * where X = W / N: the wall time of one operation of one thread (all T
 * threads running at once, so it includes their contention).
 * Exits 0 if no check failed, 1 otherwise; each corruption is described on
 * stderr (at most 20 of them). SIGUSR1 in the until-SIGTERM mode is ignored.
 *
 * A block's content is a pattern of (its seed, offset), the seed kept beside
 * it; calloc'ed blocks must read zero; realloc must keep the prefix.
 */
#include <stdatomic.h>
#include "target.h"

#define SLOTS 1024
#define MAXT 64

struct blk {
	unsigned char *p;
	size_t n;
	uint8_t seed;
};

static atomic_int stop, go, reports;
static atomic_long total_ops, total_errors;
static long iters;   /* 0: until stop */

static void corrupt(const char *what, struct blk *b, size_t k)
{
	atomic_fetch_add(&total_errors, 1);
	if (atomic_fetch_add(&reports, 1) < 20)
		fprintf(stderr, "churn_mt: %s: block %p size %zu byte %zu is 0x%02x, wanted 0x%02x\n",
			what, (void *)b->p, b->n, k, b->p[k], (uint8_t)(b->seed + k * 7));
}

static void fill(struct blk *b, size_t from)
{
	for (size_t k = from; k < b->n; k++)
		b->p[k] = (uint8_t)(b->seed + k * 7);
}

static void check(struct blk *b, size_t upto, const char *what)
{
	for (size_t k = 0; k < upto; k++)
		if (b->p[k] != (uint8_t)(b->seed + k * 7)) {
			corrupt(what, b, k);
			return;
		}
}

static size_t pick_size(uint64_t *s)
{
	uint64_t r = rnd(s);
	/* mostly tiny, some up to 1 KiB, rarely 4 KiB */
	switch (r & 7) {
	case 0: return 1 + (r >> 8) % 4096;
	case 1: case 2: return 1 + (r >> 8) % 1024;
	default: return 1 + (r >> 8) % 128;
	}
}

NOINLINE void churn_op(struct blk *b, uint64_t *s)
{
	uint64_t r = rnd(s);
	if (b->p) {
		if ((r & 7) == 0) {                 /* realloc keeps the prefix */
			size_t m = pick_size(s);
			unsigned char *q = realloc(b->p, m);
			if (!q) {
				atomic_fetch_add(&total_errors, 1);
				return;
			}
			size_t keep = m < b->n ? m : b->n;
			b->p = q;
			size_t old = b->n;
			b->n = m;
			check(b, keep, "realloc lost data");
			if (m > old)
				fill(b, old);
			return;
		}
		check(b, b->n, "block changed before free");
		free(b->p);
		b->p = NULL;
		return;
	}
	b->n = pick_size(s);
	b->seed = (uint8_t)(r >> 16);
	if ((r & 7) == 1) {
		b->p = calloc(1, b->n);
		if (b->p)
			for (size_t k = 0; k < b->n; k++)
				if (b->p[k]) {
					atomic_fetch_add(&total_errors, 1);
					fprintf(stderr, "churn_mt: calloc block %p not zero at %zu\n",
						(void *)b->p, k);
					break;
				}
	} else {
		b->p = malloc(b->n);
	}
	if (!b->p) {
		atomic_fetch_add(&total_errors, 1);
		return;
	}
	fill(b, 0);
}

NOINLINE void *churn_thread(void *arg)
{
	struct blk *blk = calloc(SLOTS, sizeof *blk);
	uint64_t s = 0x2545f4914f6cdd1dULL ^ ((uintptr_t)arg * 0x9e3779b97f4a7c15ULL);
	long ops = 0;
	if (!blk)
		return NULL;
	while (!atomic_load(&go))
		sleep_ms(1);
	for (;;) {
		if (iters ? ops >= iters : atomic_load_explicit(&stop, memory_order_relaxed))
			break;
		churn_op(&blk[rnd(&s) % SLOTS], &s);
		ops++;
	}
	for (int i = 0; i < SLOTS; i++)
		if (blk[i].p) {
			check(&blk[i], blk[i].n, "block changed before final free");
			free(blk[i].p);
		}
	free(blk);
	atomic_fetch_add(&total_ops, ops);
	return NULL;
}

static void usage(void)
{
	fprintf(stderr, "usage: churn_mt [THREADS] | THREADS SECONDS | THREADS iters N [wait]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	int nt = argc > 1 ? atoi(argv[1]) : 8;
	double seconds = 0;
	int wait_go = 0;
	if (nt < 1 || nt > MAXT)
		usage();
	if (argc > 2 && !strcmp(argv[2], "iters")) {
		if (argc < 4 || (iters = atol(argv[3])) <= 0)
			usage();
		if (argc > 4) {
			if (strcmp(argv[4], "wait"))
				usage();
			wait_go = 1;
		}
	} else if (argc > 2) {
		seconds = atof(argv[2]);
		if (seconds <= 0)
			usage();
	}

	block_protocol_signals();
	pthread_t th[MAXT];
	for (long i = 0; i < nt; i++)
		if (pthread_create(&th[i], NULL, churn_thread, (void *)i))
			return 99;
	announce_ready();
	if (wait_go)
		wait_signal(SIGUSR1);
	double t0 = now_s();
	atomic_store(&go, 1);

	if (iters) {
		/* the threads stop by themselves */
	} else if (seconds > 0) {
		sigset_t set;
		sigemptyset(&set);
		sigaddset(&set, SIGTERM);
		struct timespec ts = { (time_t)seconds, (long)((seconds - (time_t)seconds) * 1e9) };
		sigtimedwait(&set, NULL, &ts);   /* SIGTERM ends it early */
		atomic_store(&stop, 1);
	} else {
		wait_signal(SIGTERM);
		atomic_store(&stop, 1);
	}
	for (int i = 0; i < nt; i++)
		pthread_join(th[i], NULL);
	double wall = now_s() - t0;
	long ops = atomic_load(&total_ops), errors = atomic_load(&total_errors);
	say("ops %ld errors %ld\n", ops, errors);
	if (iters)
		say("threads %d iters %ld wall_s %.6f ns_per_op %.1f\n", nt, iters, wall,
		    wall * 1e9 / (double)iters);
	return errors ? 1 : 0;
}
