/* hookdefs: the allocator functions leaktrap hooks, and what each one means. */
#ifndef LT_HOOKDEFS_H
#define LT_HOOKDEFS_H

#include <stdbool.h>
#include <stdint.h>

/* The order is shared with every arch's stub image (arch_image_hooks[]). */
enum hook_kind {
	HK_MALLOC, HK_CALLOC, HK_REALLOC, HK_REALLOCARRAY, HK_FREE,
	HK_POSIX_MEMALIGN, HK_ALIGNED_ALLOC, HK_MEMALIGN, HK_VALLOC, HK_PVALLOC,
	/* C++: operator new(size_t [, align_val_t] [, nothrow_t]) and new[] */
	HK_NEW, HK_NEW_ARRAY, HK_NEW_NOTHROW, HK_NEW_ARRAY_NOTHROW,
	HK_NEW_ALIGNED, HK_NEW_ARRAY_ALIGNED, HK_NEW_ALIGNED_NOTHROW, HK_NEW_ARRAY_ALIGNED_NOTHROW,
	/* operator delete(void * [, size_t] [, align_val_t] [, nothrow_t]) and delete[] */
	HK_DELETE, HK_DELETE_ARRAY, HK_DELETE_SIZED, HK_DELETE_ARRAY_SIZED,
	HK_DELETE_NOTHROW, HK_DELETE_ARRAY_NOTHROW, HK_DELETE_ALIGNED, HK_DELETE_ARRAY_ALIGNED,
	HK_DELETE_SIZED_ALIGNED, HK_DELETE_ARRAY_SIZED_ALIGNED,
	HK_DELETE_ALIGNED_NOTHROW, HK_DELETE_ARRAY_ALIGNED_NOTHROW,
	HK_COUNT
};

/* What a hooked function does with memory, as the tracer decodes its events. */
struct hook_def {
	const char *name;      /* as status and reports show it */
	const char *sym;       /* the symbol that defines it */
	bool allocates;        /* its stub has an allocation trap */
	bool frees_arg0;       /* its stub has a free trap for argument 0 */
	bool result_via_arg0;  /* the new block is stored at *arg0 (posix_memalign) */
	bool cxx;              /* a C++ operator: hooked unless the C++ runtime's (finder.h) */
};

extern const struct hook_def hook_defs[HK_COUNT];

/* Where the stub image of one hook kind lives, as offsets from the image start. */
struct arch_hook_offsets {
	uint32_t stub;        /* entry of the stub */
	uint32_t tramp;       /* its trampoline slot (RG_TRAMP_SLOT bytes) */
	uint32_t trap_alloc;  /* the breakpoint after an allocation, or 0 */
	uint32_t trap_free;   /* the breakpoint before a free, or 0 */
	uint32_t pad;         /* 8 bytes before a branch to the trampoline, or 0:
			       * where the landing pads left at the entry (bti c,
			       * paciasp: reloc.skip) are copied, right-aligned, for
			       * the sampled path to call, so that the original's
			       * epilogue authenticates a return address signed as
			       * its prologue meant */
};

#endif
