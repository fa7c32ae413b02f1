/* thread_churn: threads are created and joined all the time.
 *
 * Usage: thread_churn [THREADS (4, at most 64)]
 * From start to exit, the main thread creates batches of THREADS threads
 * and joins them; each thread runs thread_work (200 malloc/free pairs, at most one
 * block live at a time). So leaktrap attaches, samples and detaches while
 * threads come and go. After SIGUSR1 exactly 10 batches are "measured": in
 * each, thread 0 also calls leak_in_thread, which leaks 5 x 333 bytes
 * (exact total printed). Then "done", and batches go on (without leaks)
 * until SIGTERM: exit 0.
 */
#include "target.h"

#define MAXBATCH 64
#define MEASURED 10
#define PER_THREAD 5
#define LEAK_SIZE 333

static void *kept[MEASURED * PER_THREAD];
static int nkept, line_leak;
static pthread_mutex_t klock = PTHREAD_MUTEX_INITIALIZER;
static int batch_n = 4;

NOINLINE void leak_in_thread(void)
{
	for (int i = 0; i < PER_THREAD; i++) {
		void *p = malloc(LEAK_SIZE); line_leak = __LINE__;
		touch(p, LEAK_SIZE);
		pthread_mutex_lock(&klock);
		kept[nkept++] = p;
		pthread_mutex_unlock(&klock);
	}
}

NOINLINE void thread_work(uint64_t seed)
{
	for (int i = 0; i < 200; i++) {
		size_t n = 1 + rnd(&seed) % 2000;
		void *p = malloc(n);
		touch(p, n);
		free(p);
	}
}

struct arg {
	int leak;
	uint64_t seed;
};

static void *thread_main(void *a)
{
	struct arg *x = a;
	thread_work(x->seed);
	if (x->leak)
		leak_in_thread();
	return NULL;
}

/* Runs one batch; leak: thread 0 leaks. */
static void batch(int leak, uint64_t *seed)
{
	pthread_t t[MAXBATCH];
	struct arg a[MAXBATCH];
	for (int i = 0; i < batch_n; i++) {
		a[i].leak = leak && i == 0;
		a[i].seed = rnd(seed) | 1;
		if (pthread_create(&t[i], NULL, thread_main, &a[i])) {
			say("FAIL pthread_create\n");
			exit(1);
		}
	}
	for (int i = 0; i < batch_n; i++)
		pthread_join(t[i], NULL);
}

int main(int argc, char **argv)
{
	uint64_t seed = 31337;
	if (argc > 1 && ((batch_n = atoi(argv[1])) < 1 || batch_n > MAXBATCH)) {
		fprintf(stderr, "usage: thread_churn [THREADS 1..%d]\n", MAXBATCH);
		return 2;
	}
	block_protocol_signals();
	batch(0, &seed);
	announce_ready();
	for (;;) {
		int s = poll_protocol_signal();
		if (s == SIGTERM) {
			say("target: SIGTERM before SIGUSR1\n");
			return 97;
		}
		if (s == SIGUSR1)
			break;
		batch(0, &seed);
		sleep_ms(1);
	}
	for (int b = 0; b < MEASURED; b++)
		batch(1, &seed);
	site_line("leak_in_thread", MEASURED * PER_THREAD, (long)MEASURED * PER_THREAD * LEAK_SIZE, line_leak);
	bound_line("thread_work", batch_n, batch_n * 2000L);
	say("done\n");
	while (poll_protocol_signal() != SIGTERM) {
		batch(0, &seed);
		sleep_ms(1);
	}
	use_ptr(kept);
	return 0;
}
