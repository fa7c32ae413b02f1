/* exec_self: a program that replaces itself with execve while sampled.
 *
 * Usage: exec_self [second]
 * First image: after SIGUSR1 it leaks 40 x 2000 B at leak_first, then
 * execs itself as "exec_self second" (same pid). The second image leaks
 * 60 x 3000 B at leak_second right away, prints its truth lines and "done",
 * and exits 0 on SIGTERM. The first image's heap is gone with it: only
 * leak_second may be reported live after the exec.
 */
#include "target.h"

static void *kept[100];
static int nkept, line_second;

NOINLINE void leak_first(void)
{
	for (int i = 0; i < 40; i++) {
		kept[nkept++] = malloc(2000);
		touch(kept[nkept - 1], 2000);
	}
}

NOINLINE void leak_second(void)
{
	for (int i = 0; i < 60; i++) {
		kept[nkept++] = malloc(3000); line_second = __LINE__;
		touch(kept[nkept - 1], 3000);
	}
}

int main(int argc, char **argv)
{
	block_protocol_signals();
	if (argc > 1 && !strcmp(argv[1], "second")) {
		sleep_ms(slow_ms(300));	/* let leaktrap notice and hook this image */
		leak_second();
		say("site leak_second count 60 bytes 180000 line %d\n", line_second);
		say("site leak_first count 0 bytes 0\n");
		say("done\n");
		wait_signal(SIGTERM);
		return 0;
	}
	announce_ready();
	wait_signal(SIGUSR1);
	leak_first();
	sleep_ms(300);
	say("exec\n");
	char *args[] = { argv[0], "second", NULL };
	execv("/proc/self/exe", args);
	say("FAIL exec: %s\n", strerror(errno));
	return 1;
}
