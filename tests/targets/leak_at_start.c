/* leak_at_start: leaks before main and first thing in main, then exits:
 * for `leaktrap -- PROGRAM`, which must see allocations no attach could.
 *
 * Usage: leak_at_start [STATUS]
 * A constructor of the program (run by __libc_start_main, after the entry
 * point) leaks 10 x 128 B at leak_ctor; main's first act leaks 100 x 256 B
 * at leak_early. Then it prints the truth lines and "done", and exits with
 * STATUS (default 0). It does not wait for signals (no ready/SIGUSR1):
 * leaktrap starts it.
 */
#include <stdio.h>
#include <stdlib.h>

#define NOINLINE __attribute__((noinline))

static void *kept[110];
static int nkept, line_ctor, line_early;

NOINLINE void leak_ctor(void)
{
	for (int i = 0; i < 10; i++) {
		kept[nkept++] = malloc(128); line_ctor = __LINE__;
		__asm__ __volatile__("" : : "r"(kept[nkept - 1]) : "memory");
	}
}

__attribute__((constructor)) static void at_start(void)
{
	leak_ctor();
}

NOINLINE void leak_early(void)
{
	for (int i = 0; i < 100; i++) {
		kept[nkept++] = malloc(256); line_early = __LINE__;
		__asm__ __volatile__("" : : "r"(kept[nkept - 1]) : "memory");
	}
}

int main(int argc, char **argv)
{
	leak_early();
	setvbuf(stdout, NULL, _IONBF, 0);
	printf("site leak_ctor count 10 bytes 1280 line %d\n", line_ctor);
	printf("site leak_early count 100 bytes 25600 line %d\n", line_early);
	printf("done\n");
	return argc > 1 ? atoi(argv[1]) : 0;
}
