/* ptrace_rt: the cost of one bare ptrace stop round trip on this machine.
 * A child executes int3 N times; the parent, its tracer, resumes it each
 * time with the SIGTRAP swallowed. Prints the median microseconds per stop
 * over 5 runs. leaktrap's sampled-event cost is compared to this. With
 * "split" the child runs on CPU 0 and the parent on CPU 1. */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Puts the calling process on one CPU. */
static void pin(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 20000;
	int split = argc > 2 && !strcmp(argv[2], "split");
	if (split)
		pin(1);
	double runs[5];
	for (int r = 0; r < 5; r++) {
		pid_t c = fork();
		if (c == 0) {
			if (split)
				pin(0);
			ptrace(PTRACE_TRACEME, 0, 0, 0);
			raise(SIGSTOP);
			for (int i = 0; i < n; i++)
				__asm__ volatile("int3");
			_exit(0);
		}
		int st;
		waitpid(c, &st, 0);
		ptrace(PTRACE_CONT, c, 0, 0);
		double t0 = now();
		int stops = 0;
		while (waitpid(c, &st, 0) == c && WIFSTOPPED(st)) {
			stops++;
			ptrace(PTRACE_CONT, c, 0, 0);
		}
		runs[r] = (now() - t0) / (stops ? stops : 1) * 1e6;
	}
	qsort(runs, 5, sizeof(runs[0]), cmp);
	printf("%.2f\n", runs[2]);
	return 0;
}
