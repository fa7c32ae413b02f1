/* plug_malloc: a shared library with an allocator of its own, malloc and
 * free (a bump allocator over its own arena), that alloc_dlopen loads after
 * leaktrap attached and calls through dlsym. */
#include <stddef.h>

static _Alignas(64) unsigned char arena[1 << 20];
static size_t used;

/* malloc: the next 16-byte aligned piece of the arena. */
void *malloc(size_t n)
{
	n = (n + 15) & ~(size_t)15;
	if (used + n > sizeof(arena))
		return NULL;
	used += n;
	return arena + used - n;
}

/* free: a bump allocator frees nothing. */
void free(void *p)
{
	__asm__ volatile("" : : "r"(p) : "memory");
}
