/* leak_many: many live blocks at once.
 *
 * Usage: leak_many [N (80000)]
 * After SIGUSR1, leak_many allocates N blocks of 16..3015 bytes (sizes from
 * a fixed pseudo-random sequence, so addresses are irregular) and free_half
 * frees every other one: N/2 blocks stay live, all under leak_many (their
 * exact total is printed). With --every a tool must keep track of N live
 * blocks at once and still be exact.
 * Prints the truth and "done"; SIGTERM: exit 0.
 */
#include "target.h"

static void **blocks;
static long live_bytes;
static int line_many;

NOINLINE void leak_many(int n)
{
	uint64_t seed = 7;
	for (int i = 0; i < n; i++) {
		size_t size = 16 + rnd(&seed) % 3000;
		void *p = malloc(size); line_many = __LINE__;
		touch(p, size);
		blocks[i] = p;
		if (!(i & 1))
			live_bytes += size;     /* free_half frees the odd ones */
	}
}

NOINLINE void free_half(int n)
{
	for (int i = 1; i < n; i += 2) {
		free(blocks[i]);
		blocks[i] = NULL;
	}
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 80000;
	if (n < 2 || n > 10000000) {
		fprintf(stderr, "usage: leak_many [N 2..10000000]\n");
		return 2;
	}
	blocks = calloc(n, sizeof *blocks);   /* before attach: not a leak */
	if (!blocks)
		return 99;
	block_protocol_signals();
	announce_ready();
	wait_signal(SIGUSR1);
	leak_many(n);
	free_half(n);
	long live = n - n / 2;
	site_line("leak_many", live, live_bytes, line_many);
	site_line("free_half", 0, 0, 0);
	say("done\n");
	wait_signal(SIGTERM);
	use_ptr(blocks);
	return 0;
}
