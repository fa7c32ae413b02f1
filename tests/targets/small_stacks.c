/* small_stacks: allocations made with almost no stack left.
 *
 * Usage: small_stacks
 * After SIGUSR1: a thread with the smallest stack pthread allows
 * (PTHREAD_STACK_MIN) mallocs and frees 20000 blocks from deep in that
 * stack, and the main thread recurses until about 16 KiB of its 8 MiB
 * stack (RLIMIT_STACK) are left and mallocs 20000 blocks there. With
 * sampling at 4 KiB, many of those are sampled: the stubs' stack copy must
 * stop short at the end of the stack, never fault. Prints "stacks ok" and
 * "done"; exits 0 on SIGTERM.
 */
#include <limits.h>
#include <sys/resource.h>
#include "target.h"

static char *stack_top;
static size_t stack_limit;
static volatile long sink;

NOINLINE void churn_here(int n)
{
	for (int i = 0; i < n; i++) {
		void *p = malloc(64 + (size_t)(i % 512));
		touch(p, 64);
		free(p);
	}
}

/* Recurses until less than `left` bytes of the main stack remain. */
NOINLINE void deep(size_t left)
{
	char pad[1024];
	pad[0] = (char)left;
	use_ptr(pad);
	if ((size_t)(stack_top - pad) + left < stack_limit)
		deep(left);
	else
		churn_here(20000);
	sink += pad[0];
}

static void *tiny_thread(void *arg)
{
	char pad[PTHREAD_STACK_MIN / 2];
	pad[0] = 1;
	use_ptr(pad);
	churn_here(20000);
	return NULL;
}

int main(void)
{
	char here;
	struct rlimit rl;
	block_protocol_signals();
	stack_top = &here;
	getrlimit(RLIMIT_STACK, &rl);
	stack_limit = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (64u << 20) ? (8u << 20) : rl.rlim_cur;
	announce_ready();
	wait_signal(SIGUSR1);
	pthread_attr_t a;
	pthread_t t;
	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, PTHREAD_STACK_MIN);
	if (pthread_create(&t, &a, tiny_thread, NULL))
		return 99;
	pthread_join(t, NULL);
	deep(16 * 1024 + 8192);
	say("stacks ok\n");
	say("done\n");
	wait_signal(SIGTERM);
	return 0;
}
