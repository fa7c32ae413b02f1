/* hook: the injected region, the trampolines and the patched entries. */
#ifndef LT_HOOK_H
#define LT_HOOK_H

#include "finder.h"
#include "inject.h"
#include "region.h"

enum hook_how { HOW_NONE, HOW_JMP, HOW_BKPT, HOW_ALIAS };

struct hook {
	taddr_t entry;          /* the function (0: not defined in the process) */
	uint64_t fsize;
	enum hook_how how;
	int alias_of;           /* HOW_ALIAS: the hook kind whose patch serves this one */
	char why[192];          /* why a fallback was taken, or why it is unhooked */
	taddr_t patch_at;       /* entry + landing pad */
	size_t patch_len;       /* bytes overwritten at patch_at */
	uint8_t orig[16];       /* what they held */
	uint8_t patch[16];      /* what leaktrap wrote there */
	struct reloc rel;
	taddr_t stub, tramp, trap_alloc, trap_free;   /* in the region; 0 when absent */
};

struct hooks {
	taddr_t region;         /* 0: none mapped */
	struct hook h[HK_COUNT];
	uint64_t interval;      /* mean sampling interval in bytes; 0 = every allocation */
	uint64_t rng;           /* state for sample_draw */
	bool paused;            /* countdowns that never run out: frees still tracked */
	bool agent;             /* agent engine: events go to the ring, no breakpoints */
	uint64_t ftail;         /* free-log entries consumed in order */
	bool fdone[RG_FLOG_N];  /* consumed out of order, past a claimed but unwritten one */
	bool table_used;        /* table has held an address since it was last cleared */
	uint64_t table[1 << RG_TABLE_BITS][RG_BUCKET_SLOTS];  /* mirror of the target's table */
	uint8_t group[RG_FILTER_SIZE];  /* the mirror's count per group, as last written to RG_FILTER */
};

/*
 * Maps the region through th (a thread in an interrupt- or group-stop, with
 * every other thread stopped too), writes the stubs and trampolines, and
 * patches every function found: a branch where the relocator proves it
 * safe, else a breakpoint. held[0..nheld) are pcs that running signal
 * handlers will return to: a patch never covers one after its first byte.
 * Returns 0, or -1 with a reason in err and the target as it was.
 */
int hook_install(struct target *t, struct hooks *hk, const struct finder_result *f,
		 struct thread *th, taddr_t syscall_insn, const taddr_t *held, int nheld,
		 char *err, size_t errlen);

/* Sets the active flag in the target: stubs report events only while it is set. */
int hook_set_active(struct target *t, const struct hooks *hk, bool on);

/* Restores every patched byte (all threads stopped), where the patch is
 * still there: an object unloaded since (dlclose) took it along, and
 * whatever is mapped there now is left alone. Returns 0 or -errno. */
int hook_unpatch(struct target *t, struct hooks *hk);

/* Unmaps the region through th; returns 0 or -errno. */
int hook_unmap(struct target *t, struct hooks *hk, struct thread *th, taddr_t syscall_insn);

/* Returns the hook whose breakpoint fallback is at addr, or NULL. */
struct hook *hook_by_bkpt(struct hooks *hk, taddr_t addr);

/* Finds the hook with an allocation (is_free false) or free trap at addr;
 * returns its kind, or -1. */
int hook_by_trap(const struct hooks *hk, taddr_t addr, bool *is_free);

/* Whether addr lies inside a hooked function (a call made by the allocator
 * itself, such as glibc's realloc(NULL, n) calling malloc). */
bool hook_in_allocator(const struct hooks *hk, taddr_t addr);

/* If pc is inside a trampoline at an instruction boundary, returns the
 * matching address in the original function; else 0. */
taddr_t hook_tramp_to_orig(const struct hooks *hk, taddr_t pc);

/* Whether [pc] lies in a patch window after its first byte, where a thread
 * must not be when the window is written or restored. */
bool hook_in_window(const struct hooks *hk, taddr_t pc);

/* Adds a sampled address to the target's table; returns false if its bucket is full. */
bool hook_table_add(struct target *t, struct hooks *hk, taddr_t addr);
/* Removes a sampled address from the target's table; returns whether it was there. */
bool hook_table_del(struct target *t, struct hooks *hk, taddr_t addr);

/* Reads the addresses of sampled blocks that stubs logged as freed, clears
 * them from the table mirror and calls fn for each; returns how many. */
int hook_drain_frees(struct target *t, struct hooks *hk, void (*fn)(taddr_t addr, void *arg), void *arg);
/* The same, given the log's head as read from hook_free_head(hk) with other
 * memory of the target (one system call for both). */
int hook_drain_frees_to(struct target *t, struct hooks *hk, uint64_t head,
			void (*fn)(taddr_t addr, void *arg), void *arg);
/* Where the free log's head is in the target; 0 before the region exists. */
taddr_t hook_free_head(const struct hooks *hk);

/* Writes the table of sampling intervals the stubs draw from and fresh
 * countdowns into every shard (at install, and after the interval or paused
 * changed: a paused hook draws countdowns that never run out, so nothing new
 * is sampled while frees of sampled blocks are still seen). Returns 0 or -1. */
int hook_reset_countdowns(struct target *t, struct hooks *hk);

/* Makes a forked child (stopped, not sharing our memory) clean: original
 * bytes back, stubs inert, region unmapped. Returns 0 or -errno. */
int hook_clean_child(const struct hooks *hk, pid_t child, taddr_t syscall_insn);

#endif
