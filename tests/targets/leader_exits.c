/* leader_exits: a process whose main thread has exited while another runs.
 *
 * Usage: leader_exits
 * Starts a worker thread (malloc/free every millisecond), prints
 * "ready PID", and ends its main thread with pthread_exit: the main thread
 * stays a zombie while the worker runs, until a signal (SIGTERM) ends the
 * process.
 */
#include "target.h"

static void *worker(void *arg)
{
	for (;;) {
		free(malloc(100));
		sleep_ms(1);
	}
	return arg;
}

int main(void)
{
	pthread_t t;
	if (pthread_create(&t, NULL, worker, NULL))
		return 99;
	say("ready %d\n", (int)getpid());
	pthread_exit(NULL);
}
