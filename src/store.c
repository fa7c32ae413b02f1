/* store: the stack table (deduplicated call stacks with small stable ids) and
 * the live table (sampled blocks not freed yet), both open-addressed. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "store.h"

struct store {
	/* stacks: ids 1..nstacks in stacks[id - 1]; index maps hash -> id */
	struct stack **stacks;
	uint32_t nstacks, cap_stacks;
	uint32_t *index;          /* 0 = empty */
	uint32_t index_mask;
	/* live: linear probing, backward-shift deletion (no tombstones) */
	struct live *live;        /* addr 0 = empty */
	size_t nlive, live_mask;
};

/* FNV-1a over the frame addresses. */
static uint64_t hash_frames(const taddr_t *f, unsigned n)
{
	uint64_t h = 1469598103934665603ULL;
	for (unsigned i = 0; i < n; i++) {
		h ^= f[i];
		h *= 1099511628211ULL;
	}
	return h ^ n;
}

/* Spreads an address over the live table. */
static size_t hash_addr(taddr_t a) { return (size_t)((a >> 4) * 0x9E3779B97F4A7C15ULL >> 16); }

struct store *store_new(void)
{
	struct store *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->index_mask = 1023;
	s->index = calloc(s->index_mask + 1, sizeof(*s->index));
	s->live_mask = 4095;
	s->live = calloc(s->live_mask + 1, sizeof(*s->live));
	if (!s->index || !s->live) {
		store_free(s);
		return NULL;
	}
	return s;
}

void store_free(struct store *s)
{
	if (!s)
		return;
	for (uint32_t i = 0; i < s->nstacks; i++)
		free(s->stacks[i]);
	free(s->stacks);
	free(s->index);
	free(s->live);
	free(s);
}

/* Doubles the stack index; returns 0 or -ENOMEM. */
static int grow_index(struct store *s)
{
	uint32_t mask = s->index_mask * 2 + 1;
	uint32_t *n = calloc((size_t)mask + 1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	for (uint32_t id = 1; id <= s->nstacks; id++) {
		uint32_t i = (uint32_t)s->stacks[id - 1]->hash & mask;
		while (n[i])
			i = (i + 1) & mask;
		n[i] = id;
	}
	free(s->index);
	s->index = n;
	s->index_mask = mask;
	return 0;
}

uint32_t store_intern_stack(struct store *s, const taddr_t *frames, unsigned n)
{
	if (n > LT_MAX_FRAMES)
		n = LT_MAX_FRAMES;
	uint64_t h = hash_frames(frames, n);
	uint32_t i = (uint32_t)h & s->index_mask;
	for (; s->index[i]; i = (i + 1) & s->index_mask) {
		const struct stack *st = s->stacks[s->index[i] - 1];
		if (st->hash == h && st->nframes == n && !memcmp(st->frames, frames, n * sizeof(*frames)))
			return st->id;
	}
	if (s->nstacks == s->cap_stacks) {
		uint32_t cap = s->cap_stacks ? s->cap_stacks * 2 : 256;
		struct stack **v = realloc(s->stacks, cap * sizeof(*v));
		if (!v)
			return 0;
		s->stacks = v;
		s->cap_stacks = cap;
	}
	struct stack *st = malloc(sizeof(*st) + n * sizeof(*frames));
	if (!st)
		return 0;
	st->id = s->nstacks + 1;
	st->nframes = n;
	st->hash = h;
	memcpy(st->frames, frames, n * sizeof(*frames));
	s->stacks[s->nstacks++] = st;
	s->index[i] = st->id;
	if ((s->nstacks + 1) * 4 > (s->index_mask + 1) * 3 && grow_index(s) < 0)
		return st->id;	/* still found by the slower, fuller index */
	return st->id;
}

const struct stack *store_stack(const struct store *s, uint32_t id)
{
	return id >= 1 && id <= s->nstacks ? s->stacks[id - 1] : NULL;
}

uint32_t store_stack_count(const struct store *s) { return s->nstacks; }

/* Returns the slot of addr, or of the empty slot where it would go. */
static size_t live_slot(const struct store *s, taddr_t addr)
{
	size_t i = hash_addr(addr) & s->live_mask;
	while (s->live[i].addr && s->live[i].addr != addr)
		i = (i + 1) & s->live_mask;
	return i;
}

/* Rehashes the live table into mask+1 slots; returns 0 or -ENOMEM. */
static int resize_live(struct store *s, size_t mask)
{
	struct live *old = s->live, *n = calloc(mask + 1, sizeof(*n));
	size_t old_mask = s->live_mask;
	if (!n)
		return -ENOMEM;
	s->live = n;
	s->live_mask = mask;
	for (size_t i = 0; i <= old_mask; i++)
		if (old[i].addr)
			s->live[live_slot(s, old[i].addr)] = old[i];
	free(old);
	return 0;
}

int store_alloc(struct store *s, const struct live *l)
{
	if ((s->nlive + 1) * 4 > (s->live_mask + 1) * 3 && resize_live(s, s->live_mask * 2 + 1) < 0)
		return -ENOMEM;
	size_t i = live_slot(s, l->addr);
	if (!s->live[i].addr)
		s->nlive++;
	s->live[i] = *l;
	return 0;
}

bool store_free_addr(struct store *s, taddr_t addr)
{
	if (!addr)
		return false;
	size_t i = live_slot(s, addr);
	if (!s->live[i].addr)
		return false;
	/* Backward-shift deletion: pull later entries of the run into the hole. */
	size_t j = i;
	for (;;) {
		s->live[i].addr = 0;
		for (;;) {
			j = (j + 1) & s->live_mask;
			if (!s->live[j].addr)
				goto done;
			size_t home = hash_addr(s->live[j].addr) & s->live_mask;
			/* Move j into i unless its home lies cyclically in (i, j]. */
			if (i <= j ? (home <= i || home > j) : (home <= i && home > j))
				break;
		}
		s->live[i] = s->live[j];
		i = j;
	}
done:
	s->nlive--;
	if (s->live_mask > 4095 && s->nlive * 8 < s->live_mask + 1)
		resize_live(s, s->live_mask / 2);	/* give memory back after a peak */
	return true;
}

size_t store_live_count(const struct store *s) { return s->nlive; }

void store_foreach_live(const struct store *s, void (*fn)(const struct live *l, void *arg), void *arg)
{
	for (size_t i = 0; i <= s->live_mask; i++)
		if (s->live[i].addr)
			fn(&s->live[i], arg);
}
