/* sample: Poisson sampling by bytes (as in tcmalloc and heapprof). */
#include <math.h>
#include "sample.h"

/* xorshift64*: fast, and good enough to draw sampling intervals. */
static uint64_t next_random(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

int64_t sample_draw(uint64_t interval, uint64_t *state)
{
	if (interval == 0)
		return 0;
	/* U in (0, 1]: 53 random bits, never 0, so log(U) is finite. */
	double u = ((next_random(state) >> 11) + 1) * (1.0 / 9007199254740992.0);
	double d = -log(u) * (double)interval;
	if (d < 1)
		return 1;
	if (d > 4e18)
		return (int64_t)4e18;
	return (int64_t)d;
}

void sample_weight(uint64_t size, uint64_t interval, double *bytes, double *count)
{
	if (interval == 0) {
		*bytes = (double)size;
		*count = 1;
		return;
	}
	/* -expm1(-x) keeps precision when size is tiny next to the interval. */
	double p = -expm1(-(double)size / (double)interval);
	if (p <= 0) {	/* size 0: it can only be sampled by a countdown already at 0 */
		*bytes = 0;
		*count = 1;
		return;
	}
	*bytes = (double)size / p;
	*count = 1 / p;
}
