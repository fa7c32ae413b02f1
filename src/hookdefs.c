/* hookdefs: what each hooked allocator function does with memory. */
#include "hookdefs.h"

/* A C function: its name is its symbol. */
#define C_FN(name, allocates, frees, via_arg0) { name, name, allocates, frees, via_arg0, false }
/* A C++ operator new (the size is its first argument) or delete (the pointer). */
#define NEW(name, sym) { name, sym, true, false, false, true }
#define DELETE(name, sym) { name, sym, false, true, false, true }

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
	[HK_NEW]                         = NEW("operator new", "_Znwm"),
	[HK_NEW_ARRAY]                   = NEW("operator new[]", "_Znam"),
	[HK_NEW_NOTHROW]                 = NEW("operator new(nothrow)", "_ZnwmRKSt9nothrow_t"),
	[HK_NEW_ARRAY_NOTHROW]           = NEW("operator new[](nothrow)", "_ZnamRKSt9nothrow_t"),
	[HK_NEW_ALIGNED]                 = NEW("operator new(align)", "_ZnwmSt11align_val_t"),
	[HK_NEW_ARRAY_ALIGNED]           = NEW("operator new[](align)", "_ZnamSt11align_val_t"),
	[HK_NEW_ALIGNED_NOTHROW]         = NEW("operator new(align, nothrow)",
					       "_ZnwmSt11align_val_tRKSt9nothrow_t"),
	[HK_NEW_ARRAY_ALIGNED_NOTHROW]   = NEW("operator new[](align, nothrow)",
					       "_ZnamSt11align_val_tRKSt9nothrow_t"),
	[HK_DELETE]                      = DELETE("operator delete", "_ZdlPv"),
	[HK_DELETE_ARRAY]                = DELETE("operator delete[]", "_ZdaPv"),
	[HK_DELETE_SIZED]                = DELETE("operator delete(sized)", "_ZdlPvm"),
	[HK_DELETE_ARRAY_SIZED]          = DELETE("operator delete[](sized)", "_ZdaPvm"),
	[HK_DELETE_NOTHROW]              = DELETE("operator delete(nothrow)", "_ZdlPvRKSt9nothrow_t"),
	[HK_DELETE_ARRAY_NOTHROW]        = DELETE("operator delete[](nothrow)", "_ZdaPvRKSt9nothrow_t"),
	[HK_DELETE_ALIGNED]              = DELETE("operator delete(align)", "_ZdlPvSt11align_val_t"),
	[HK_DELETE_ARRAY_ALIGNED]        = DELETE("operator delete[](align)", "_ZdaPvSt11align_val_t"),
	[HK_DELETE_SIZED_ALIGNED]        = DELETE("operator delete(sized, align)", "_ZdlPvmSt11align_val_t"),
	[HK_DELETE_ARRAY_SIZED_ALIGNED]  = DELETE("operator delete[](sized, align)",
						  "_ZdaPvmSt11align_val_t"),
	[HK_DELETE_ALIGNED_NOTHROW]      = DELETE("operator delete(align, nothrow)",
						  "_ZdlPvSt11align_val_tRKSt9nothrow_t"),
	[HK_DELETE_ARRAY_ALIGNED_NOTHROW] = DELETE("operator delete[](align, nothrow)",
						   "_ZdaPvSt11align_val_tRKSt9nothrow_t"),
};
