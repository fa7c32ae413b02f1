/* finder: which definitions of the malloc family the process really calls. */
#ifndef LT_FINDER_H
#define LT_FINDER_H

#include <limits.h>
#include "target.h"
#include "hookdefs.h"

struct found_fn {
	taddr_t addr;          /* 0: not defined anywhere */
	uint64_t size;         /* st_size, 0 if unknown */
	char module[PATH_MAX]; /* the object that defines it */
};

struct finder_result {
	struct found_fn fn[HK_COUNT];
	bool is_static;        /* no dynamic linker: symbols from the executable's .symtab */
};

/*
 * Finds, for every hook kind, the first definition in link-map order (the
 * executable, its LD_PRELOADs, then its libraries, as the dynamic linker
 * resolves them), from .dynsym, or .symtab for a static executable. Files
 * are read through /proc/PID/root. Returns 0, or -1 with a one-line reason
 * in err when no allocator was found.
 */
int finder_find(struct target *t, struct finder_result *out, char *err, size_t errlen);

#endif
