/* hookdefs: what each hooked allocator function does with memory. */
#include "hookdefs.h"

const struct hook_def hook_defs[HK_COUNT] = {
	[HK_MALLOC]         = { "malloc",         true,  false, false },
	[HK_CALLOC]         = { "calloc",         true,  false, false },
	[HK_REALLOC]        = { "realloc",        true,  true,  false },
	[HK_REALLOCARRAY]   = { "reallocarray",   true,  true,  false },
	[HK_FREE]           = { "free",           false, true,  false },
	[HK_POSIX_MEMALIGN] = { "posix_memalign", true,  false, true  },
	[HK_ALIGNED_ALLOC]  = { "aligned_alloc",  true,  false, false },
	[HK_MEMALIGN]       = { "memalign",       true,  false, false },
	[HK_VALLOC]         = { "valloc",         true,  false, false },
	[HK_PVALLOC]        = { "pvalloc",        true,  false, false },
};
