/* sample: Poisson sampling by bytes, and the weights that undo it. */
#ifndef LT_SAMPLE_H
#define LT_SAMPLE_H

#include "types.h"

/* Returns the next countdown: a draw from an exponential distribution with
 * mean interval bytes (at least 1), or 0 when interval is 0 (every
 * allocation is sampled). state is the caller's PRNG state, never 0. */
int64_t sample_draw(uint64_t interval, uint64_t *state);

/* A sampled allocation of size bytes stands for *bytes bytes and *count
 * allocations: size/p and 1/p with p = 1 - exp(-size/interval), the
 * probability that it was sampled. Exact (size, 1) when interval is 0. */
void sample_weight(uint64_t size, uint64_t interval, double *bytes, double *count);

#endif
