/* alloc_basic: every C allocation entry point, called directly and from
 * inside the C library, for whichever allocator the program is built or
 * preloaded with (glibc, musl, jemalloc, tcmalloc, mimalloc).
 *
 * Usage: alloc_basic
 * After SIGUSR1, one named function per entry point leaks a known number of
 * blocks of known sizes:
 *   leak_malloc          40 x malloc(1000)
 *   leak_calloc          30 x calloc(7, 100)
 *   leak_realloc         20 x realloc(malloc(100), 5000)   (the realloc's line)
 *   leak_reallocarray    10 x reallocarray(NULL, 10, 70)
 *   leak_posix_memalign  10 x posix_memalign(&p, 64, 2000)
 *   leak_aligned_alloc   10 x aligned_alloc(256, 512)
 *   leak_memalign        10 x memalign(128, 384)
 *   leak_valloc           5 x valloc(5000)
 *   leak_strdup          25 x strdup of 99 characters: the C library calls malloc
 *   leak_getline         10 x getline() into a fresh buffer: the C library
 *                        calls malloc or realloc; the size it asked for is
 *                        what getline leaves in its length argument
 *   leak_fopen           10 x fopen() never closed: one block each, of a
 *                        size only the C library knows ("count" line)
 * and churn() runs every entry point (and strdup, fopen/fclose, getline)
 * 5000 times, freeing everything. pvalloc is left out: jemalloc does not
 * define it, and glibc's would hand out a block jemalloc cannot free.
 * Prints the truth (target.h), "count leak_fopen count 10" (checked by
 * tests/e2e/alloc_lib.bash), "done"; SIGTERM: exit 0.
 */
#include <malloc.h>
#include "target.h"

#define NLINE 10
static const char lines_text[] =
	"one\ntwo two\nthree three three\nfour\nfive five\nsix\nseven seven seven seven\n"
	"eight\nnine nine\nten ten ten\n";

static void *kept[256];
static int nkept;
static FILE *kept_files[10];
static int line_malloc, line_calloc, line_realloc, line_reallocarray, line_posix_memalign,
	line_aligned_alloc, line_memalign, line_valloc, line_strdup, line_getline;
static long getline_bytes;
static char src99[100];

/* Remembers a leaked block so that it stays reachable. */
static void keep(void *p)
{
	kept[nkept++] = p;
	use_ptr(p);
}

NOINLINE void leak_malloc(void)
{
	for (int i = 0; i < 40; i++) {
		void *p = malloc(1000); line_malloc = __LINE__;
		touch(p, 1000);
		keep(p);
	}
}

NOINLINE void leak_calloc(void)
{
	for (int i = 0; i < 30; i++) {
		void *p = calloc(7, 100); line_calloc = __LINE__;
		touch(p, 700);
		keep(p);
	}
}

NOINLINE void leak_realloc(void)
{
	for (int i = 0; i < 20; i++) {
		void *p = malloc(100);
		touch(p, 100);
		void *q = realloc(p, 5000); line_realloc = __LINE__;
		touch(q, 5000);
		keep(q);
	}
}

NOINLINE void leak_reallocarray(void)
{
	for (int i = 0; i < 10; i++) {
		void *p = reallocarray(NULL, 10, 70); line_reallocarray = __LINE__;
		touch(p, 700);
		keep(p);
	}
}

NOINLINE void leak_posix_memalign(void)
{
	for (int i = 0; i < 10; i++) {
		void *p = NULL;
		int e = posix_memalign(&p, 64, 2000); line_posix_memalign = __LINE__;
		if (e || ((uintptr_t)p & 63))
			say("FAIL posix_memalign returned %d, %p\n", e, p);
		touch(p, 2000);
		keep(p);
	}
}

NOINLINE void leak_aligned_alloc(void)
{
	for (int i = 0; i < 10; i++) {
		void *p = aligned_alloc(256, 512); line_aligned_alloc = __LINE__;
		touch(p, 512);
		keep(p);
	}
}

NOINLINE void leak_memalign(void)
{
	for (int i = 0; i < 10; i++) {
		void *p = memalign(128, 384); line_memalign = __LINE__;
		touch(p, 384);
		keep(p);
	}
}

NOINLINE void leak_valloc(void)
{
	for (int i = 0; i < 5; i++) {
		void *p = valloc(5000); line_valloc = __LINE__;
		touch(p, 5000);
		keep(p);
	}
}

NOINLINE void leak_strdup(void)
{
	for (int i = 0; i < 25; i++) {
		char *p = strdup(src99); line_strdup = __LINE__;
		touch(p, 0);
		keep(p);
	}
}

/* Reads every line of f into its own new buffer, which it leaks. */
NOINLINE void leak_getline(FILE *f)
{
	for (int i = 0; i < NLINE; i++) {
		char *buf = NULL;
		size_t n = 0;
		ssize_t got = getline(&buf, &n, f); line_getline = __LINE__;
		if (got <= 0 || !buf) {
			say("FAIL getline returned %zd\n", got);
			continue;
		}
		getline_bytes += (long)n;	/* what the C library asked for */
		keep(buf);
	}
}

NOINLINE void leak_fopen(void)
{
	for (int i = 0; i < 10; i++) {
		kept_files[i] = fopen("/dev/null", "r");
		if (!kept_files[i])
			say("FAIL fopen /dev/null\n");
	}
}

/* Every entry point, many times; every block is freed before it returns. */
NOINLINE void churn(void)
{
	void *pool[64] = { 0 };
	uint64_t seed = 0x2545f4914f6cdd1dULL;
	for (int i = 0, rounds = churn_rounds(5000); i < rounds; i++) {
		unsigned slot = rnd(&seed) % 64;
		size_t n = 1 + rnd(&seed) % 700;
		void *p = NULL;
		free(pool[slot]);
		switch (i % 8) {
		case 0: p = malloc(n); break;
		case 1: p = calloc(1 + n % 5, 16); break;
		case 2: p = realloc(malloc(n), n * 3); break;
		case 3: if (posix_memalign(&p, 32, n)) p = NULL; break;
		case 4: p = aligned_alloc(64, 64 * (1 + n % 4)); break;
		case 5: p = memalign(16, n); break;
		case 6: p = strdup(src99 + n % 99); break;
		case 7: p = reallocarray(NULL, 1 + n % 3, 50); break;
		}
		touch(p, 1);
		pool[slot] = p;
		if (i % 500 == 0) {
			FILE *f = fopen("/dev/null", "r");
			if (f)
				fclose(f);
			free(valloc(100));
		}
	}
	for (int i = 0; i < 64; i++)
		free(pool[i]);
}

int main(void)
{
	static char iobuf[4096];
	memset(src99, 'x', 99);
	block_protocol_signals();
	/* the stream's buffer is ours, so that getline's buffers are the only
	 * blocks leak_getline leaves behind */
	FILE *lines = fmemopen((void *)lines_text, sizeof(lines_text) - 1, "r");
	if (!lines || setvbuf(lines, iobuf, _IOFBF, sizeof(iobuf))) {
		say("FAIL fmemopen\n");
		return 1;
	}
	announce_ready();
	wait_signal(SIGUSR1);

	leak_malloc();
	churn();
	leak_calloc();
	leak_realloc();
	leak_reallocarray();
	leak_posix_memalign();
	leak_aligned_alloc();
	leak_memalign();
	leak_valloc();
	leak_strdup();
	leak_getline(lines);
	leak_fopen();

	site_line("leak_malloc", 40, 40L * 1000, line_malloc);
	site_line("leak_calloc", 30, 30L * 700, line_calloc);
	site_line("leak_realloc", 20, 20L * 5000, line_realloc);
	site_line("leak_reallocarray", 10, 10L * 700, line_reallocarray);
	site_line("leak_posix_memalign", 10, 10L * 2000, line_posix_memalign);
	site_line("leak_aligned_alloc", 10, 10L * 512, line_aligned_alloc);
	site_line("leak_memalign", 10, 10L * 384, line_memalign);
	site_line("leak_valloc", 5, 5L * 5000, line_valloc);
	site_line("leak_strdup", 25, 25L * 100, line_strdup);
	site_line("leak_getline", NLINE, getline_bytes, line_getline);
	site_line("churn", 0, 0, 0);
	say("count leak_fopen count 10\n");
	say("done\n");

	wait_signal(SIGTERM);
	use_ptr(kept);
	use_ptr(kept_files);
	return 0;
}
