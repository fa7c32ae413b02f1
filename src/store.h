/* store: the stack table and the live table of sampled allocations. */
#ifndef LT_STORE_H
#define LT_STORE_H

#include "types.h"

/* A deduplicated call stack. frames[0] is the return address into the
 * allocator's caller, frames[n-1] the outermost frame. */
struct stack {
	uint32_t id;          /* small and stable: 1, 2, 3 ... in order of first sight */
	uint32_t nframes;
	uint64_t hash;
	taddr_t frames[];
};

/* One sampled allocation that has not been freed. */
struct live {
	taddr_t addr;
	uint64_t size;        /* requested bytes */
	double weight_bytes;  /* unbiased estimate of the bytes this sample stands for */
	double weight_count;  /* ... and of the allocations */
	uint32_t stack_id;
	pid_t tid;
	uint64_t t_ns;        /* CLOCK_MONOTONIC time of the allocation */
};

struct store;

/* Returns a new empty store, or NULL when out of memory. */
struct store *store_new(void);

/* Frees the store and everything in it. */
void store_free(struct store *s);

/* Returns the id of the stack frames[0..n), adding it if it is new; 0 when
 * out of memory. n is clamped to LT_MAX_FRAMES. */
uint32_t store_intern_stack(struct store *s, const taddr_t *frames, unsigned n);

/* Returns stack id, or NULL if there is no such stack. */
const struct stack *store_stack(const struct store *s, uint32_t id);

/* Number of distinct stacks (ids run 1..count). */
uint32_t store_stack_count(const struct store *s);

/* Records a live sampled allocation; a previous entry at the same address is
 * replaced (its free was not seen). Returns 0 or -ENOMEM. */
int store_alloc(struct store *s, const struct live *l);

/* Removes the live allocation at addr; returns true if there was one. */
bool store_free_addr(struct store *s, taddr_t addr);

/* Forgets every live allocation (the process replaced its image); stacks stay. */
void store_clear_live(struct store *s);

/* Number of live sampled allocations. */
size_t store_live_count(const struct store *s);

/* Calls fn for every live allocation, in no particular order. */
void store_foreach_live(const struct store *s,
			void (*fn)(const struct live *l, void *arg), void *arg);

/* Returns the heap bytes the store holds (both tables, the stacks and the
 * store itself): for status lines and for tests that memory stays bounded. */
size_t store_mem_bytes(const struct store *s);

#endif
