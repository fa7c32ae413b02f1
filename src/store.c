/*
 * store: the stack table and the live table of sampled allocations.
 *
 * Both tables are open-addressing hash tables with linear probing.
 *
 * The stack table never deletes, so it needs no tombstones: its slots hold
 * stack ids (0 = empty) and the stacks themselves sit back to back in an
 * arena of large chunks, so a stack costs its header plus 8 bytes a frame and
 * a pointer handed out by store_stack() stays valid for the store's life.
 *
 * The live table holds struct live by value, keyed by address (0 = empty
 * slot; a live allocation at address 0, which no allocator returns but a
 * caller might still record, is kept in a side slot). Deletion is by
 * backward shift, not tombstones: after a free, the entries of the probe run
 * that follows are moved back over the hole, so the table never fills with
 * dead slots and churn at a steady live count never grows it. It grows at a
 * load of 3/4 and shrinks at 1/8, so memory follows the live count both ways
 * and no insert or free pays more than amortised O(1). A slot is one struct
 * live (48 bytes), so a live entry costs 64 to 128 bytes in steady state.
 * Fibonacci hashing spreads neighbouring heap chunks (the common case) over
 * distinct slots with short probe runs, measurably better than a full mixer.
 * store_alloc and store_free_addr run while a target thread is stopped:
 * outside of a resize they allocate nothing.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

#define LIVE_MIN_CAP   1024u          /* slots; a power of two */
#define STACK_MIN_CAP  256u           /* slots; a power of two */
#define CHUNK_BYTES    (64u * 1024u)  /* arena chunk: > one LT_MAX_FRAMES stack */

/* One arena chunk holding stacks back to back. */
struct chunk {
	struct chunk *next;
	size_t used;
	size_t size;
	_Alignas(8) unsigned char data[];
};

struct store {
	/* stack table */
	struct stack **stacks;    /* stacks[id - 1] */
	uint32_t nstacks;
	uint32_t stacks_cap;      /* entries of stacks[] */
	uint32_t *sslots;         /* hash slots: stack ids, 0 = empty */
	uint32_t sslots_mask;     /* slots - 1 */
	struct chunk *chunks;     /* newest first; stacks are carved from the head */
	size_t chunk_bytes;       /* sum of chunk sizes, for store_mem_bytes */

	/* live table */
	struct live *live;        /* slots; addr 0 = empty */
	size_t live_mask;         /* slots - 1 */
	unsigned live_shift;      /* 64 - log2(slots): Fibonacci hashing keeps the top bits */
	size_t nlive;             /* entries in live[] (not counting zero) */
	bool has_zero;            /* the side slot for address 0 is in use */
	struct live zero;
};

/* Returns the home slot of addr in a table of 2^(64 - shift) slots. */
static inline size_t live_home(taddr_t addr, unsigned shift)
{
	/* Heap addresses share their high bits and their low (alignment) bits;
	 * folding the high half in and keeping the top bits of a multiply by
	 * 2^64/phi spreads consecutive chunks evenly over the table. */
	uint64_t x = addr ^ (addr >> 32);
	return (size_t)((x * 0x9e3779b97f4a7c15ull) >> shift);
}

/* Returns log2 of a power of two. */
static unsigned log2_pow2(size_t n)
{
	unsigned k = 0;
	while ((size_t)1 << k < n)
		k++;
	return k;
}

/* Moves every live entry into a new table of cap slots (a power of two);
 * returns 0, or -ENOMEM with the old table untouched. */
static int live_resize(struct store *s, size_t cap)
{
	struct live *nv = calloc(cap, sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	size_t mask = cap - 1;
	unsigned shift = 64 - log2_pow2(cap);
	for (size_t i = 0; i <= s->live_mask; i++) {
		const struct live *e = &s->live[i];
		if (!e->addr)
			continue;
		size_t j = live_home(e->addr, shift);
		while (nv[j].addr)
			j = (j + 1) & mask;
		nv[j] = *e;
	}
	free(s->live);
	s->live = nv;
	s->live_mask = mask;
	s->live_shift = shift;
	return 0;
}

/* Returns a new empty store, or NULL when out of memory. */
struct store *store_new(void)
{
	struct store *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->live = calloc(LIVE_MIN_CAP, sizeof(*s->live));
	s->sslots = calloc(STACK_MIN_CAP, sizeof(*s->sslots));
	if (!s->live || !s->sslots) {
		store_free(s);
		return NULL;
	}
	s->live_mask = LIVE_MIN_CAP - 1;
	s->live_shift = 64 - log2_pow2(LIVE_MIN_CAP);
	s->sslots_mask = STACK_MIN_CAP - 1;
	return s;
}

/* Frees the store and everything in it. */
void store_free(struct store *s)
{
	if (!s)
		return;
	for (struct chunk *c = s->chunks, *next; c; c = next) {
		next = c->next;
		free(c);
	}
	free(s->stacks);
	free(s->sslots);
	free(s->live);
	free(s);
}

/* ---- stacks ---- */

/* Returns a 64-bit hash of frames[0..n). */
static uint64_t stack_hash(const taddr_t *frames, unsigned n)
{
	uint64_t h = 0x243f6a8885a308d3ull ^ n;
	for (unsigned i = 0; i < n; i++) {
		h ^= frames[i];
		h *= 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	/* murmur3's finaliser: every input bit reaches the low bits we index by */
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h;
}

/* Doubles the stack hash slots; returns 0 or -ENOMEM. */
static int stack_slots_grow(struct store *s)
{
	size_t cap = ((size_t)s->sslots_mask + 1) * 2;
	if (cap > UINT32_MAX)
		return -ENOMEM;
	uint32_t *nv = calloc(cap, sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	uint32_t mask = (uint32_t)(cap - 1);
	for (uint32_t id = 1; id <= s->nstacks; id++) {
		uint32_t j = (uint32_t)s->stacks[id - 1]->hash & mask;
		while (nv[j])
			j = (j + 1) & mask;
		nv[j] = id;
	}
	free(s->sslots);
	s->sslots = nv;
	s->sslots_mask = mask;
	return 0;
}

/* Returns bytes of arena memory for a stack (8-aligned), or NULL. */
static void *arena_alloc(struct store *s, size_t bytes)
{
	bytes = (bytes + 7) & ~(size_t)7;
	struct chunk *c = s->chunks;
	if (!c || c->size - c->used < bytes) {
		size_t size = bytes > CHUNK_BYTES ? bytes : CHUNK_BYTES;
		c = malloc(sizeof(*c) + size);
		if (!c)
			return NULL;
		c->next = s->chunks;
		c->used = 0;
		c->size = size;
		s->chunks = c;
		s->chunk_bytes += sizeof(*c) + size;
	}
	void *p = c->data + c->used;
	c->used += bytes;
	return p;
}

/* Returns the id of the stack frames[0..n), adding it if it is new; 0 when
 * out of memory. n is clamped to LT_MAX_FRAMES. */
uint32_t store_intern_stack(struct store *s, const taddr_t *frames, unsigned n)
{
	if (n > LT_MAX_FRAMES)
		n = LT_MAX_FRAMES;
	uint64_t h = stack_hash(frames, n);
	size_t fbytes = (size_t)n * sizeof(taddr_t);
	uint32_t i = (uint32_t)h & s->sslots_mask;
	for (uint32_t id; (id = s->sslots[i]) != 0; i = (i + 1) & s->sslots_mask) {
		const struct stack *st = s->stacks[id - 1];
		if (st->hash == h && st->nframes == n &&
		    (n == 0 || memcmp(st->frames, frames, fbytes) == 0))
			return id;
	}

	/* New stack. Keep the slots at most half full: lookups stay short and
	 * the table is small next to the stacks themselves. */
	if (s->nstacks == UINT32_MAX - 1)
		return 0;
	if (((size_t)s->nstacks + 1) * 2 > (size_t)s->sslots_mask + 1) {
		if (stack_slots_grow(s) < 0)
			return 0;
		i = (uint32_t)h & s->sslots_mask;
		while (s->sslots[i])
			i = (i + 1) & s->sslots_mask;
	}
	if (s->nstacks == s->stacks_cap) {
		uint32_t cap = s->stacks_cap ? s->stacks_cap * 2 : 256;
		struct stack **nv = realloc(s->stacks, (size_t)cap * sizeof(*nv));
		if (!nv)
			return 0;
		s->stacks = nv;
		s->stacks_cap = cap;
	}
	struct stack *st = arena_alloc(s, sizeof(*st) + fbytes);
	if (!st)
		return 0;
	st->id = s->nstacks + 1;
	st->nframes = n;
	st->hash = h;
	if (n)
		memcpy(st->frames, frames, fbytes);
	s->stacks[s->nstacks++] = st;
	s->sslots[i] = st->id;
	return st->id;
}

/* Returns stack id, or NULL if there is no such stack. */
const struct stack *store_stack(const struct store *s, uint32_t id)
{
	if (!s || id == 0 || id > s->nstacks)
		return NULL;
	return s->stacks[id - 1];
}

/* Number of distinct stacks (ids run 1..count). */
uint32_t store_stack_count(const struct store *s)
{
	return s->nstacks;
}

/* ---- live allocations ---- */

/* Records a live sampled allocation; a previous entry at the same address is
 * replaced (its free was not seen). Returns 0 or -ENOMEM. */
int store_alloc(struct store *s, const struct live *l)
{
	if (l->addr == 0) {
		s->zero = *l;
		s->has_zero = true;
		return 0;
	}
	size_t cap = s->live_mask + 1;
	if (s->nlive + 1 > cap / 4 * 3 && live_resize(s, cap * 2) < 0 &&
	    s->nlive + 1 >= cap) {
		/* Growing failed: carry on at a higher load while there is room,
		 * but always keep one empty slot so that probes end. */
		return -ENOMEM;
	}
	size_t mask = s->live_mask;
	size_t i = live_home(l->addr, s->live_shift);
	for (;;) {
		taddr_t a = s->live[i].addr;
		if (a == l->addr) {
			s->live[i] = *l;
			return 0;
		}
		if (a == 0)
			break;
		i = (i + 1) & mask;
	}
	s->live[i] = *l;
	s->nlive++;
	return 0;
}

/* Removes the live allocation at addr; returns true if there was one. */
bool store_free_addr(struct store *s, taddr_t addr)
{
	if (addr == 0) {
		bool had = s->has_zero;
		s->has_zero = false;
		return had;
	}
	size_t mask = s->live_mask;
	unsigned shift = s->live_shift;
	struct live *v = s->live;
	size_t i = live_home(addr, shift);
	for (;;) {
		taddr_t a = v[i].addr;
		if (a == addr)
			break;
		if (a == 0)
			return false;
		i = (i + 1) & mask;
	}

	/* Backward shift: walk the run after the hole; an entry whose home is
	 * not cyclically within (hole, j] can be found from its home only
	 * through the hole, so it moves into it and leaves a new hole. */
	for (size_t j = i;;) {
		j = (j + 1) & mask;
		if (v[j].addr == 0)
			break;
		size_t k = live_home(v[j].addr, shift);
		bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
		if (!stays) {
			v[i] = v[j];
			i = j;
		}
	}
	v[i].addr = 0;
	s->nlive--;

	/* Give memory back after a peak. Shrinking to half puts the load at
	 * 1/4, well away from both thresholds, so no sequence of calls can
	 * make the table flap; a failed shrink just keeps the bigger table. */
	size_t cap = mask + 1;
	if (cap > LIVE_MIN_CAP && s->nlive < cap / 8)
		(void)live_resize(s, cap / 2);
	return true;
}

/* Number of live sampled allocations. */
size_t store_live_count(const struct store *s)
{
	return s->nlive + (s->has_zero ? 1 : 0);
}

/* Calls fn for every live allocation, in no particular order. */
void store_foreach_live(const struct store *s,
			void (*fn)(const struct live *l, void *arg), void *arg)
{
	for (size_t i = 0; i <= s->live_mask; i++)
		if (s->live[i].addr)
			fn(&s->live[i], arg);
	if (s->has_zero)
		fn(&s->zero, arg);
}

/* Returns the heap bytes the store holds: both tables, the stack arena and
 * the store itself. */
size_t store_mem_bytes(const struct store *s)
{
	return sizeof(*s) +
	       (s->live_mask + 1) * sizeof(*s->live) +
	       ((size_t)s->sslots_mask + 1) * sizeof(*s->sslots) +
	       (size_t)s->stacks_cap * sizeof(*s->stacks) +
	       s->chunk_bytes;
}

void store_clear_live(struct store *s)
{
	memset(s->live, 0, (s->live_mask + 1) * sizeof(*s->live));
	s->nlive = 0;
	s->has_zero = false;
}
