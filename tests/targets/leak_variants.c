/* leak_variants: every allocation function leaks at its own named site.
 *
 * Usage: leak_variants
 * After SIGUSR1 each via_* function allocates N blocks with one allocation
 * function and the program frees the first F of them, so live counts differ
 * from call counts. Sizes differ per site so that a block attributed to the
 * wrong site shows in both count and bytes.
 *   via_realloc: realloc_begin() mallocs 10 bytes and reallocs to 100 and
 *     1000; via_realloc then reallocs to 5000. Only that last block is live
 *     and it belongs to via_realloc's call; realloc_begin holds nothing.
 *   via_reallocarray: half from NULL, half growing a block that
 *     reallocarray_begin() malloc'ed.
 *   via_strdup / via_strndup: libc's strdup calls malloc inside libc.
 *   via_malloc_large: 3 live blocks of 1234567 bytes (mmap'ed by glibc);
 *     their 3703701 bytes need 7 significant digits.
 * Prints the expected live count/bytes per site, "done"; SIGTERM: exit 0.
 * Exits 96 if calloc memory is not zeroed or realloc loses contents.
 */
#include <malloc.h>
#include "target.h"

#define MAXN 64
struct site {
	const char *name;
	int n, nfree;
	size_t size;
	int line;
	void *p[MAXN];
};

#define SITE(nm, N, F, S) { .name = nm, .n = N, .nfree = F, .size = S }
static struct site s_malloc = SITE("via_malloc", 40, 10, 100);
static struct site s_calloc = SITE("via_calloc", 30, 5, 10 * 24);
static struct site s_realloc = SITE("via_realloc", 20, 4, 5000);
static struct site s_realloc_null = SITE("via_realloc_null", 25, 5, 200);
static struct site s_reallocarray = SITE("via_reallocarray", 16, 3, 30 * 10);
static struct site s_posix_memalign = SITE("via_posix_memalign", 20, 2, 1000);
static struct site s_aligned_alloc = SITE("via_aligned_alloc", 20, 6, 512);
static struct site s_memalign = SITE("via_memalign", 20, 4, 700);
static struct site s_valloc = SITE("via_valloc", 10, 2, 3000);
static struct site s_pvalloc = SITE("via_pvalloc", 10, 1, 8192);
static struct site s_strdup = SITE("via_strdup", 50, 10, 32);
static struct site s_strndup = SITE("via_strndup", 30, 7, 16);
/* Big enough for glibc to mmap each block; the live bytes (3703701) have 7
 * significant digits, so a report that rounds its figures shows here. */
static struct site s_malloc_large = SITE("via_malloc_large", 4, 1, 1234567);

static const char text31[] = "0123456789abcdefghijklmnopqrstu"; /* 31 chars */

static void fail(const char *what)
{
	say("FAIL %s\n", what);
	exit(96);
}

NOINLINE void via_malloc(void)
{
	for (int i = 0; i < s_malloc.n; i++) {
		void *p = malloc(100); s_malloc.line = __LINE__;
		touch(p, 100);
		s_malloc.p[i] = p;
	}
}

NOINLINE void via_malloc_large(void)
{
	for (int i = 0; i < s_malloc_large.n; i++) {
		void *p = malloc(1234567); s_malloc_large.line = __LINE__;
		touch(p, 1234567);
		s_malloc_large.p[i] = p;
	}
}

NOINLINE void via_calloc(void)
{
	for (int i = 0; i < s_calloc.n; i++) {
		unsigned char *p = calloc(10, 24); s_calloc.line = __LINE__;
		for (int k = 0; k < 240; k++)
			if (!p || p[k])
				fail("calloc memory not zeroed");
		touch(p, 240);
		s_calloc.p[i] = p;
	}
}

/* Grows a block twice; the block it returns is realloc'ed again by its
 * caller, so nothing allocated here stays live under this frame. */
NOINLINE char *realloc_begin(void)
{
	char *p = malloc(10);
	touch(p, 10);
	p[0] = 'R';
	p = realloc(p, 100);
	use_ptr(p);
	if (!p || p[0] != 'R')
		fail("realloc lost contents (100)");
	p = realloc(p, 1000);
	use_ptr(p);
	if (!p || p[0] != 'R')
		fail("realloc lost contents (1000)");
	return p;
}

NOINLINE void via_realloc(void)
{
	for (int i = 0; i < s_realloc.n; i++) {
		char *p = realloc_begin();
		char *q = realloc(p, 5000); s_realloc.line = __LINE__;
		use_ptr(q);
		if (!q || q[0] != 'R')
			fail("realloc lost contents (5000)");
		s_realloc.p[i] = q;
	}
}

NOINLINE void via_realloc_null(void)
{
	for (int i = 0; i < s_realloc_null.n; i++) {
		void *p = realloc(NULL, 200); s_realloc_null.line = __LINE__;
		touch(p, 200);
		s_realloc_null.p[i] = p;
	}
}

NOINLINE char *reallocarray_begin(void)
{
	char *p = malloc(50);
	touch(p, 50);
	p[0] = 'A';
	return p;
}

NOINLINE void via_reallocarray(void)
{
	for (int i = 0; i < s_reallocarray.n; i++) {
		char *old = (i & 1) ? reallocarray_begin() : NULL;
		char *p = reallocarray(old, 30, 10); s_reallocarray.line = __LINE__;
		use_ptr(p);
		if (!p || (old && p[0] != 'A'))
			fail("reallocarray lost contents");
		touch(p, 300);
		s_reallocarray.p[i] = p;
	}
}

NOINLINE void via_posix_memalign(void)
{
	for (int i = 0; i < s_posix_memalign.n; i++) {
		void *p = NULL;
		int r = posix_memalign(&p, 64, 1000); s_posix_memalign.line = __LINE__;
		if (r || ((uintptr_t)p & 63))
			fail("posix_memalign");
		touch(p, 1000);
		s_posix_memalign.p[i] = p;
	}
}

NOINLINE void via_aligned_alloc(void)
{
	for (int i = 0; i < s_aligned_alloc.n; i++) {
		void *p = aligned_alloc(256, 512); s_aligned_alloc.line = __LINE__;
		if ((uintptr_t)p & 255)
			fail("aligned_alloc alignment");
		touch(p, 512);
		s_aligned_alloc.p[i] = p;
	}
}

NOINLINE void via_memalign(void)
{
	for (int i = 0; i < s_memalign.n; i++) {
		void *p = memalign(128, 700); s_memalign.line = __LINE__;
		if ((uintptr_t)p & 127)
			fail("memalign alignment");
		touch(p, 700);
		s_memalign.p[i] = p;
	}
}

NOINLINE void via_valloc(void)
{
	for (int i = 0; i < s_valloc.n; i++) {
		void *p = valloc(3000); s_valloc.line = __LINE__;
		if ((uintptr_t)p & 4095)
			fail("valloc alignment");
		touch(p, 3000);
		s_valloc.p[i] = p;
	}
}

/* 8192 is a multiple of the page size, so requested and rounded sizes agree. */
NOINLINE void via_pvalloc(void)
{
	for (int i = 0; i < s_pvalloc.n; i++) {
		void *p = pvalloc(8192); s_pvalloc.line = __LINE__;
		if ((uintptr_t)p & 4095)
			fail("pvalloc alignment");
		touch(p, 8192);
		s_pvalloc.p[i] = p;
	}
}

NOINLINE void via_strdup(void)
{
	for (int i = 0; i < s_strdup.n; i++) {
		char *p = strdup(text31);
		if (!p || strcmp(p, text31))
			fail("strdup");
		use_ptr(p);
		s_strdup.p[i] = p;
	}
}

NOINLINE void via_strndup(void)
{
	for (int i = 0; i < s_strndup.n; i++) {
		char *p = strndup(text31, 15);
		if (!p || strlen(p) != 15)
			fail("strndup");
		use_ptr(p);
		s_strndup.p[i] = p;
	}
}

/* Frees the first nfree blocks of s; this function allocates nothing. */
NOINLINE void free_some(struct site *s)
{
	for (int i = 0; i < s->nfree; i++) {
		free(s->p[i]);
		s->p[i] = NULL;
	}
}

static void report(const struct site *s)
{
	long live = s->n - s->nfree;
	site_line(s->name, live, live * (long)s->size, s->line);
}

int main(void)
{
	struct site *all[] = { &s_malloc, &s_calloc, &s_realloc, &s_realloc_null,
			       &s_reallocarray, &s_posix_memalign, &s_aligned_alloc,
			       &s_memalign, &s_valloc, &s_pvalloc, &s_strdup,
			       &s_strndup, &s_malloc_large };
	int nall = sizeof all / sizeof all[0];

	block_protocol_signals();
	announce_ready();
	wait_signal(SIGUSR1);

	via_malloc();
	via_calloc();
	via_realloc();
	via_realloc_null();
	via_reallocarray();
	via_posix_memalign();
	via_aligned_alloc();
	via_memalign();
	via_valloc();
	via_pvalloc();
	via_strdup();
	via_strndup();
	via_malloc_large();
	for (int i = 0; i < nall; i++)
		free_some(all[i]);

	for (int i = 0; i < nall; i++)
		report(all[i]);
	/* strdup's frames[0] is libc: no "line" for those two (line = 0 above) */
	site_line("realloc_begin", 0, 0, 0);
	site_line("reallocarray_begin", 0, 0, 0);
	site_line("free_some", 0, 0, 0);
	say("done\n");

	wait_signal(SIGTERM);
	return 0;
}
