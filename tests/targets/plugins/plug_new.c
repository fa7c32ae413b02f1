/* plug_new: a shared library that brings its own operator new and delete
 * (a bump allocator over its own arena: no malloc), for alloc_dlopen.
 * Built twice: libplug_new_a.so (PLUG_ID 'a') and libplug_new_b.so (PLUG_ID
 * 'b'), whose operator new starts with eight nops, so that its first bytes
 * differ from a's when b is loaded where a was. */
#include <stddef.h>
#include <stdint.h>

static _Alignas(64) unsigned char arena[1 << 20];
static size_t used;

/* operator new(size_t): the next 16-byte aligned piece of the arena. */
void *plug_new(size_t n) __asm__("_Znwm");
void *plug_new(size_t n)
{
#if PLUG_ID == 'b'
	__asm__ volatile("nop; nop; nop; nop; nop; nop; nop; nop");
#endif
	n = (n + 15) & ~(size_t)15;
	if (used + n > sizeof(arena))
		return NULL;
	used += n;
	return arena + used - n;
}

static size_t deletes;

/* operator delete(void *): a bump allocator frees nothing; it counts. */
void plug_delete(void *p) __asm__("_ZdlPv");
void plug_delete(void *p)
{
	if (p)
		deletes++;
}

/* Which build this is. */
int plug_id(void)
{
	return PLUG_ID;
}
