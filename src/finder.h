/* finder: which definitions of the malloc family the process really calls. */
#ifndef LT_FINDER_H
#define LT_FINDER_H

#include <limits.h>
#include "target.h"
#include "hookdefs.h"

struct found_fn {
	taddr_t addr;          /* 0: not defined anywhere */
	uint64_t size;         /* st_size, 0 if unknown */
	taddr_t lm;            /* the link-map entry of its object (0: static executable) */
	bool via_malloc;       /* addr 0: the C++ runtime's operator, which calls malloc/free */
	char module[PATH_MAX]; /* the object that defines it */
};

/* One object of the link map at attach, to tell later what was loaded or
 * unloaded (dlopen, dlclose) since. */
struct finder_obj {
	taddr_t lm;            /* its struct link_map in the target */
	taddr_t base;          /* l_addr */
	uint64_t name_hash;    /* of l_name */
};

#define FINDER_MAX_OBJS 1024

struct finder_result {
	struct found_fn fn[HK_COUNT];
	bool is_static;        /* no dynamic linker: symbols from the executable's .symtab */
	char family[16];       /* of the object that defines malloc: "glibc", "musl",
				* "jemalloc", "tcmalloc", "mimalloc" or "unknown" */
	char origin[32];       /* how that object got there: "static executable",
				* "executable", "LD_PRELOAD" or "shared library" */
	size_t nobjs;          /* the link map at attach (at most FINDER_MAX_OBJS) */
	struct finder_obj objs[FINDER_MAX_OBJS];
};

/*
 * Finds, for every hook kind, the first definition in link-map order (the
 * executable, its LD_PRELOADs, then its libraries, as the dynamic linker
 * resolves them), from .dynsym, or .symtab for a static executable. A C++
 * operator new or delete whose first definition is the C++ runtime's
 * (libstdc++: it calls malloc and free, which are hooked) is left out with
 * via_malloc set. Names the family of the allocator and remembers the link
 * map. Files are read through /proc/PID/root. Returns
 * 0, or -1 with a one-line reason in err when no allocator was found.
 */
int finder_find(struct target *t, struct finder_result *out, char *err, size_t errlen);

/*
 * Returns the allocator family ("glibc", "musl", "jemalloc", "tcmalloc",
 * "mimalloc", or "unknown") of the object at path as process pid sees it,
 * by symbols that only one family defines; the answer for a path that
 * finder_find already classified is remembered, so it stays right after
 * the target is gone. Never NULL; a static string.
 */
const char *finder_family(pid_t pid, const char *path);

/* A difference between the link map now and at attach. */
struct finder_change {
	bool loaded;           /* true: loaded after attach; false: a hooked object unloaded */
	char module[PATH_MAX];
	char family[16];       /* loaded: its allocator family */
	char funcs[160];       /* loaded: the allocator functions it defines, comma-separated;
				* unloaded: the hooked functions that went with it */
};

/*
 * Compares the target's link map now with the one at attach (f): objects
 * loaded since that define malloc or free (an allocator of their own,
 * which leaktrap does not hook: calls already bound elsewhere never reach
 * it), and objects holding a hooked function that were unloaded (dlclose).
 * Reads the target's memory only (no ptrace stop needed). Fills at most
 * max entries of out and returns how many, or -1 when the link map cannot
 * be read.
 */
int finder_changes(struct target *t, const struct finder_result *f,
		   struct finder_change *out, int max);

#endif
