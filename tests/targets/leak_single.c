/* leak_single: one thread, two leaking sites and a churn that frees all.
 *
 * Usage: leak_single [EXIT_STATUS]
 * After SIGUSR1: leak_a leaks 100 x 1000 bytes, leak_b (a big frame) 50 x 3000 bytes,
 * churn() mallocs (and reallocs) 20000 blocks of random small sizes and frees
 * every one. Prints the truth (see target.h: the sites, and main as the
 * caller of both leaks) and "done", then waits for
 * SIGTERM and exits with EXIT_STATUS (default 0).
 */
#include "target.h"

#define A_N 100
#define A_SIZE 1000
#define B_N 50
#define B_SIZE 3000
#define CHURN_N 20000
#define POOL 256

static void *kept_a[A_N], *kept_b[B_N];
static int line_a, line_b;

NOINLINE void leak_a(void)
{
	for (int i = 0; i < A_N; i++) {
		void *p = malloc(A_SIZE); line_a = __LINE__;
		touch(p, A_SIZE);
		kept_a[i] = p;
	}
}

/* Its frame is over 3 KiB: its return address lies past the top of the
 * stack copy that the agent engine's reader takes first (agent.c), so the
 * "caller leak_b main" check needs the rest of the copy too. */
NOINLINE void leak_b(void)
{
	char pad[3072];
	memset(pad, 1, sizeof(pad));
	use_ptr(pad);
	for (int i = 0; i < B_N; i++) {
		void *p = malloc(B_SIZE); line_b = __LINE__;
		touch(p, B_SIZE);
		kept_b[i] = p;
	}
}

/* Every block it allocates is freed before it returns. */
NOINLINE void churn(void)
{
	void *pool[POOL] = { 0 };
	size_t sizes[POOL] = { 0 };
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	for (int i = 0, rounds = churn_rounds(CHURN_N); i < rounds; i++) {
		unsigned slot = rnd(&seed) % POOL;
		size_t n = 1 + rnd(&seed) % 600;
		if (pool[slot])
			free(pool[slot]);
		void *p = malloc(n);
		touch(p, n);
		if ((i & 7) == 0) {         /* grow some of them in place or not */
			void *q = realloc(p, n * 2 + 16);
			touch(q, n * 2 + 16);
			p = q;
			n = n * 2 + 16;
		}
		pool[slot] = p;
		sizes[slot] = n;
	}
	for (int i = 0; i < POOL; i++)
		free(pool[i]);
	use_ptr(sizes);
}

int main(int argc, char **argv)
{
	int status = argc > 1 ? atoi(argv[1]) : 0;
	block_protocol_signals();
	announce_ready();
	wait_signal(SIGUSR1);

	leak_a();
	churn();
	leak_b();

	site_line("leak_a", A_N, (long)A_N * A_SIZE, line_a);
	site_line("leak_b", B_N, (long)B_N * B_SIZE, line_b);
	site_line("churn", 0, 0, 0);
	say("caller leak_a main\ncaller leak_b main\n");
	say("done\n");

	wait_signal(SIGTERM);
	use_ptr(kept_a);
	use_ptr(kept_b);
	return status;
}
