/* hookdefs: what each hooked allocator function does with memory. */
#include "hookdefs.h"

/* A C function: its name is its symbol. */
#define C_FN(name, allocates, frees, via_arg0) { name, name, allocates, frees, via_arg0, false }

const struct hook_def hook_defs[HK_COUNT] = {
	[HK_MALLOC]         = C_FN("malloc",         true,  false, false),
	[HK_CALLOC]         = C_FN("calloc",         true,  false, false),
	[HK_REALLOC]        = C_FN("realloc",        true,  true,  false),
	[HK_REALLOCARRAY]   = C_FN("reallocarray",   true,  true,  false),
	[HK_FREE]           = C_FN("free",           false, true,  false),
	[HK_POSIX_MEMALIGN] = C_FN("posix_memalign", true,  false, true),
	[HK_ALIGNED_ALLOC]  = C_FN("aligned_alloc",  true,  false, false),
	[HK_MEMALIGN]       = C_FN("memalign",       true,  false, false),
	[HK_VALLOC]         = C_FN("valloc",         true,  false, false),
	[HK_PVALLOC]        = C_FN("pvalloc",        true,  false, false),
};
