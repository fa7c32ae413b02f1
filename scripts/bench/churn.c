/* churn: the benchmark's workload: THREADS threads each doing ITERS
 * malloc/free pairs of small random sizes, touching every block, with WORK
 * steps of computation between allocations (0: a tight loop). With "wait",
 * it prints "ready" and starts only on SIGUSR1, so that a tool can attach
 * first. Prints the wall time of the work in seconds. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long iters, work_steps;

static void *work(void *arg)
{
	unsigned s = (unsigned)(long)arg;
	void *keep[64] = { 0 };
	long bad = 0;
	for (long i = 0; i < iters; i++) {
		for (long w = 0; w < work_steps; w++)
			s = s * 1103515245 + 12345;
		s = s * 1103515245 + 12345;
		int k = (s >> 8) & 63;
		if (keep[k]) {
			bad += *(volatile char *)keep[k] != (char)k;
			free(keep[k]);
		}
		size_t n = 16 + ((s >> 16) % 512);
		keep[k] = malloc(n);
		memset(keep[k], k, n < 32 ? n : 32);
	}
	for (int k = 0; k < 64; k++)
		free(keep[k]);
	return (void *)bad;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: churn THREADS ITERS [WORK [wait]]\n");
		return 2;
	}
	int nt = atoi(argv[1]);
	iters = atol(argv[2]);
	work_steps = argc > 3 ? atol(argv[3]) : 0;
	if (argc > 4) {
		sigset_t set;
		int sig;
		sigemptyset(&set);
		sigaddset(&set, SIGUSR1);
		sigprocmask(SIG_BLOCK, &set, NULL);
		printf("ready %d\n", getpid());
		fflush(stdout);
		sigwait(&set, &sig);
	}
	struct timespec a, b;
	pthread_t t[256];
	long bad = 0;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < nt && i < 256; i++)
		pthread_create(&t[i], 0, work, (void *)(long)(i + 1));
	for (int i = 0; i < nt && i < 256; i++) {
		void *r;
		pthread_join(t[i], &r);
		bad += (long)r;
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%.4f\n", (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9);
	return bad != 0;
}
