/* unwind: call stacks of stopped threads, with libunwind's remote interface. */
#ifndef LT_UNWIND_H
#define LT_UNWIND_H

#include "target.h"

struct unwinder;

#define UNWIND_STACK_COPY 8192  /* bytes of stack read per event (deeper reads go direct) */

/* Creates an unwinder for t's address space (libunwind's global caching on);
 * returns NULL when out of memory. */
struct unwinder *unwind_new(struct target *t);

/*
 * Unwinds from the registers of a caller frame (pc = a return address) and
 * stores frames[0] = that pc, then each caller's, up to max. Stack memory is
 * read once, in bulk, from the stack pointer up; code and unwind tables come
 * from a page cache of read-only mappings. Returns the number of frames.
 */
int unwind_stack(struct unwinder *u, const struct arch_regs *caller, taddr_t *frames, int max);

/* Copies the live stack of the target from sp up (at most UNWIND_STACK_COPY
 * bytes, within its mapping) into buf, and in the same system call the word
 * at `word` (if not 0) into *val; returns the bytes of stack copied, 0 with
 * *val untouched if the word could not be read. */
size_t unwind_copy_stack(struct unwinder *u, taddr_t sp, void *buf, taddr_t word, uint64_t *val);

/* Gives the next unwind_stack the stack from sp up as the target copied it
 * at the event (agent engine, or a trap whose thread has run on), instead of reading the live stack, which has
 * moved on by then. Reads past the copy still go to the live process. */
void unwind_set_stack(struct unwinder *u, taddr_t sp, const void *data, size_t len);

/* Says that the copy unwind_set_stack gave goes on to len bytes, and that
 * the whole copy is still at `at` in the target (a ring slot): the bytes
 * past those given are read from there if, and only if, the unwind needs
 * them. */
void unwind_stack_rest(struct unwinder *u, size_t len, taddr_t at);

/*
 * Unwinds a stopped thread from its own registers and finds the contexts
 * that signals interrupted (a thread inside a signal handler returns to
 * them): stores each interrupted pc, and where in memory it is saved (0 if
 * unknown), up to max. Returns how many. Best effort: an unwind that fails
 * (a handler without unwind information) finds fewer.
 */
int unwind_interrupted(struct unwinder *u, const struct arch_regs *regs, taddr_t *pcs, taddr_t *locs,
		       int max);

/* How stacks were unwound: by the rules learnt from the unwind tables
 * alone, or by libunwind; with LEAKTRAP_UNWIND_CHECK in the environment,
 * libunwind redoes every stack the rules unwound, and those it unwinds
 * differently are counted (deeper: libunwind's stops short of the rules'
 * and agrees with it as far as it goes). */
struct unwind_counts {
	uint64_t fast, full, checked, differ, deeper;
};

/* Copies the unwinder's counts into *c (all 0 without an unwinder: NULL). */
void unwind_counts(const struct unwinder *u, struct unwind_counts *c);

/* Forgets cached modules, pages and unwind info (after the mappings changed). */
void unwind_flush(struct unwinder *u);

/* Frees the unwinder. */
void unwind_free(struct unwinder *u);

#endif
