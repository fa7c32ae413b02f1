/* test_symbols: the maps parser and the symbolizer, on hand-written maps
 * text and on this very program: its own noinline functions, an inlined
 * one, libc, anonymous and JIT memory, a child that exits mid-session and
 * a child whose executable was deleted. Prints TAP lines; exit 0 only if
 * every check passes. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "maps.h"
#include "symbols.h"

static int failures, checks;
#define CHECK(cond, ...) do { checks++; if (cond) printf("ok %d - ", checks); \
	else { failures++; printf("not ok %d - ", checks); } printf(__VA_ARGS__); printf("\n"); } while (0)

/* ---- code whose symbols the checks know ---- */

static volatile taddr_t leaf_ra;
static volatile int call_line, inl_line, outer_line, sink;

/* Records its own return address: a point inside whoever called it. */
__attribute__((noinline, noclone)) void tst_leaf(void)
{
	leaf_ra = (taddr_t)__builtin_return_address(0);
	__asm__ volatile("" ::: "memory");
}

/* Calls tst_leaf from a known line, and does work after it so the call is
 * not a tail call. */
__attribute__((noinline, noclone)) int tst_caller(int x)
{
	tst_leaf(); call_line = __LINE__;
	return x + sink;
}

/* Inlined into tst_outer: the return address of tst_leaf lies in its code. */
static inline __attribute__((always_inline)) int tst_inl(int x)
{
	tst_leaf(); inl_line = __LINE__;
	return x * 3 + sink;
}

/* The physical function around the inlined tst_inl. */
__attribute__((noinline, noclone)) int tst_outer(int x)
{
	int r = tst_inl(x); outer_line = __LINE__;
	return r + sink;
}

/* ---- helpers ---- */

/* Returns the last path component of p ("" for NULL). */
static const char *base(const char *p)
{
	if (!p)
		return "";
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

/* Whether s ends with suffix. */
static bool ends_with(const char *s, const char *suffix)
{
	size_t a = s ? strlen(s) : 0, b = strlen(suffix);
	return s && a >= b && !strcmp(s + a - b, suffix);
}

/* Returns s, or "(null)", for printing. */
static const char *str(const char *s)
{
	return s ? s : "(null)";
}

/* Returns CLOCK_MONOTONIC in microseconds. */
static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* ---- maps ---- */

static void test_maps(void)
{
	const char *text =
		"55d0c0a00000-55d0c0a02000 r--p 00000000 fd:01 1234                       /usr/bin/my prog\n"
		"55d0c0a02000-55d0c0a05000 r-xp 00002000 fd:01 1234                       /usr/bin/my prog\n"
		"7f0000000000-7f0000021000 rw-p 00000000 00:00 0 \n"
		"7f0000100000-7f0000200000 r-xp 00001000 08:02 99                         /tmp/lib gone.so (deleted)\n"
		"7fff12340000-7fff12361000 rw-p 00000000 00:00 0                          [stack]\n"
		"7fff123fd000-7fff123ff000 r-xp 00000000 00:00 0                          [vdso]\n"
		"ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n";
	struct maps m;
	int rc = maps_parse(text, &m);
	CHECK(rc == 0 && m.n == 7, "maps_parse: 7 lines -> rc %d, %zu mappings", rc, m.n);
	if (rc < 0 || m.n != 7)
		return;
	CHECK(m.v[0].start == 0x55d0c0a00000ULL && m.v[0].end == 0x55d0c0a02000ULL &&
	      !strcmp(m.v[0].path, "/usr/bin/my prog") && !strcmp(m.v[0].perms, "r--p") &&
	      m.v[0].inode == 1234, "maps_parse: path with a space '%s'", m.v[0].path);
	CHECK(m.v[1].offset == 0x2000 && !strcmp(m.v[1].perms, "r-xp"),
	      "maps_parse: offset 0x%llx and perms %s", (unsigned long long)m.v[1].offset, m.v[1].perms);
	CHECK(!strcmp(m.v[2].path, "") && m.v[2].inode == 0, "maps_parse: anonymous mapping has path ''");
	CHECK(!strcmp(m.v[3].path, "/tmp/lib gone.so (deleted)") && m.v[3].inode == 99,
	      "maps_parse: deleted file keeps its suffix '%s'", m.v[3].path);
	CHECK(!strcmp(m.v[5].path, "[vdso]"), "maps_parse: [vdso] '%s'", m.v[5].path);
	CHECK(m.v[6].start == 0xffffffffff600000ULL && !strcmp(m.v[6].perms, "--xp"),
	      "maps_parse: 64-bit addresses ([vsyscall])");

	/* maps_find edges: starts are inclusive, ends exclusive, gaps empty. */
	CHECK(maps_find(&m, 0x1000) == NULL, "maps_find: below the first mapping");
	CHECK(maps_find(&m, 0x55d0c0a00000ULL) == &m.v[0], "maps_find: first byte");
	CHECK(maps_find(&m, 0x55d0c0a01fffULL) == &m.v[0], "maps_find: last byte");
	CHECK(maps_find(&m, 0x55d0c0a02000ULL) == &m.v[1], "maps_find: end is the next mapping's start");
	CHECK(maps_find(&m, 0x55d0c0a05000ULL) == NULL, "maps_find: end of a mapping before a gap");
	CHECK(maps_find(&m, 0x7f0000050000ULL) == NULL, "maps_find: in a gap");
	CHECK(maps_find(&m, 0xffffffffff600fffULL) == &m.v[6], "maps_find: last mapping, last byte");
	CHECK(maps_find(&m, 0xffffffffffffffffULL) == NULL, "maps_find: above every mapping");
	maps_free(&m);
	CHECK(m.n == 0 && m.v == NULL && maps_find(&m, 0x1000) == NULL, "maps_free empties; maps_find on empty");

	/* Unsorted input still comes out sorted. */
	rc = maps_parse("2000-3000 r-xp 00000000 00:00 0 b\n1000-2000 r-xp 00000000 00:00 0 a\n", &m);
	CHECK(rc == 0 && m.n == 2 && m.v[0].start == 0x1000 && !strcmp(m.v[0].path, "a") &&
	      maps_find(&m, 0x2800) == &m.v[1], "maps_parse: sorts by start");
	maps_free(&m);

	const char *bad[] = {
		"hello world\n",
		"1000-2000 r-xp 00000000 00:00\n",                 /* no inode */
		"1000 r-xp 00000000 00:00 0 /x\n",                 /* no end */
		"2000-1000 r-xp 00000000 00:00 0 /x\n",            /* end below start */
		"1000-2000 rzxp 00000000 00:00 0 /x\n",            /* bad perms */
		"1000-2000 r-xp 00000000 00:00 0\n1000-2000\n",    /* good then truncated */
		"1000-2000 r-xp 00000000 0000 0 /x\n",             /* bad dev */
		"11112222333344445-2000 r-xp 00000000 00:00 0\n",  /* more than 64 bits */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		m.n = 42;
		rc = maps_parse(bad[i], &m);
		CHECK(rc == -EINVAL && m.n == 0 && m.v == NULL, "maps_parse: malformed input %zu -> %d", i, rc);
	}
	rc = maps_parse("", &m);
	CHECK(rc == 0 && m.n == 0, "maps_parse: empty text");
	maps_free(&m);
	rc = maps_parse("1000-2000 r-xp 00000000 00:00 0 /no/newline", &m);
	CHECK(rc == 0 && m.n == 1 && !strcmp(m.v[0].path, "/no/newline"), "maps_parse: last line without newline");
	maps_free(&m);

	rc = maps_read(getpid(), &m);
	bool self = false;
	for (size_t i = 0; rc == 0 && i < m.n; i++)
		self |= maps_find(&m, (taddr_t)tst_caller) == &m.v[i] && ends_with(m.v[i].path, "test_symbols");
	CHECK(rc == 0 && m.n > 5 && self, "maps_read(self): %zu mappings, our code in ours", m.n);
	maps_free(&m);
	rc = maps_read(0x7ffffff0, &m);
	CHECK(rc == -ENOENT && m.n == 0, "maps_read(no such pid) -> %d", rc);
}

/* ---- symbols, in this process ---- */

static void test_self(void)
{
	struct symbolizer *s = sym_new(getpid());
	CHECK(s != NULL, "sym_new(self)");
	if (!s)
		return;
	struct sym_frame f[LT_MAX_FRAMES];

	/* A return address: the line of the call, the offset from addr itself. */
	tst_caller(1);
	taddr_t ra = leaf_ra;
	double t0 = now_us();
	int n = sym_lookup(s, ra, true, f, LT_MAX_FRAMES);
	double first = now_us() - t0;
	CHECK(n == 1 && f[0].func && !strcmp(f[0].func, "tst_caller") && !f[0].inlined,
	      "own function: n %d func %s", n, str(f[0].func));
	CHECK(f[0].addr == ra && f[0].func_off == ra - (taddr_t)tst_caller,
	      "own function: addr and func_off 0x%llx", (unsigned long long)f[0].func_off);
	CHECK(ends_with(f[0].module, "test_symbols"), "own function: module %s", str(f[0].module));
	CHECK(!strcmp(base(f[0].file), "test_symbols.c") && f[0].line == call_line,
	      "own function: %s:%d, the call is on line %d", str(f[0].file), f[0].line, call_line);

	/* Cached: the same answer, much cheaper. */
	const char *fn = f[0].func;
	int iters = 100000;
	t0 = now_us();
	for (int i = 0; i < iters; i++)
		sym_lookup(s, ra, true, f, LT_MAX_FRAMES);
	double cached = (now_us() - t0) / iters;
	CHECK(f[0].func == fn && f[0].line == call_line, "cached lookup gives the same strings");
	printf("# lookup cost: first %.1f us, cached %.3f us\n", first, cached);

	/* A call as the very last instruction of a function: with is_return,
	 * addr - 1 is used; without it, the address itself. */
	n = sym_lookup(s, (taddr_t)tst_outer, false, f, LT_MAX_FRAMES);
	CHECK(n >= 1 && f[n - 1].func && !strcmp(f[n - 1].func, "tst_outer") && f[n - 1].func_off == 0,
	      "function entry, not a return address: %s+0x%llx", str(f[n - 1].func),
	      (unsigned long long)f[n - 1].func_off);
	n = sym_lookup(s, (taddr_t)tst_outer, true, f, LT_MAX_FRAMES);
	CHECK(n >= 1 && (!f[n - 1].func || strcmp(f[n - 1].func, "tst_outer")) && f[0].addr == (taddr_t)tst_outer,
	      "return address at a function's start belongs to what precedes it: %s", str(f[n - 1].func));

	/* Inlined code: the inlined function first, the physical one last. */
	tst_outer(2);
	ra = leaf_ra;
	n = sym_lookup(s, ra, true, f, LT_MAX_FRAMES);
	CHECK(n >= 2, "inlined: %d entries", n);
	if (n >= 2) {
		CHECK(f[0].inlined && f[0].func && !strcmp(f[0].func, "tst_inl") && f[0].line == inl_line &&
		      !strcmp(base(f[0].file), "test_symbols.c") && f[0].func_off == 0,
		      "inlined: first %s at %s:%d (want line %d)", str(f[0].func), base(f[0].file),
		      f[0].line, inl_line);
		CHECK(!f[n - 1].inlined && f[n - 1].func && !strcmp(f[n - 1].func, "tst_outer") &&
		      f[n - 1].line == outer_line && f[n - 1].func_off == ra - (taddr_t)tst_outer,
		      "inlined: last %s+0x%llx at %s:%d (want line %d)", str(f[n - 1].func),
		      (unsigned long long)f[n - 1].func_off, base(f[n - 1].file), f[n - 1].line, outer_line);
		CHECK(f[0].addr == ra && f[n - 1].addr == ra && f[0].module == f[n - 1].module,
		      "inlined: every entry has the address and the module");
	}
	n = sym_lookup(s, ra, true, f, 1);
	CHECK(n == 1 && !f[0].inlined && f[0].func && !strcmp(f[0].func, "tst_outer"),
	      "inlined, room for one entry: the physical function %s", str(f[0].func));

	/* libc */
	void *m = dlsym(RTLD_DEFAULT, "malloc");
	t0 = now_us();
	n = sym_lookup(s, (taddr_t)m, false, f, LT_MAX_FRAMES);
	double libc_first = now_us() - t0;
	const char *mf = f[n - 1].func;
	CHECK(mf && (!strcmp(mf, "malloc") || !strcmp(mf, "__libc_malloc") ||
		     !strcmp(mf, "__GI___libc_malloc") || !strcmp(mf, "__malloc")) && f[n - 1].func_off == 0,
	      "libc: malloc is %s+0x%llx", str(mf), (unsigned long long)f[n - 1].func_off);
	CHECK(f[n - 1].module && strstr(f[n - 1].module, "libc.so"), "libc: module %s", str(f[n - 1].module));
	printf("# lookup cost: first in libc %.1f us\n", libc_first);

	/* Anonymous memory: just the address. */
	char *anon = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	n = sym_lookup(s, (taddr_t)anon + 16, true, f, LT_MAX_FRAMES);
	CHECK(n == 1 && f[0].addr == (taddr_t)anon + 16 && !f[0].module && !f[0].func && !f[0].file,
	      "anonymous memory: address only (module %s)", str(f[0].module));
	munmap(anon, 4096);
	n = sym_lookup(s, 0, true, f, LT_MAX_FRAMES);
	CHECK(n == 1 && f[0].addr == 0 && !f[0].func, "address 0: one entry");
	n = sym_lookup(s, ~(taddr_t)0, false, f, LT_MAX_FRAMES);
	CHECK(n == 1 && f[0].addr == ~(taddr_t)0, "address ~0: one entry");

	/* [vdso] is read from memory. */
	struct maps mm;
	taddr_t vdso = 0;
	if (maps_read(getpid(), &mm) == 0) {
		for (size_t i = 0; i < mm.n; i++)
			if (!strcmp(mm.v[i].path, "[vdso]"))
				vdso = mm.v[i].start;
		maps_free(&mm);
	}
	if (vdso) {
		n = sym_lookup(s, vdso + 0x100, false, f, LT_MAX_FRAMES);
		CHECK(n >= 1 && f[n - 1].module && !strcmp(f[n - 1].module, "[vdso]") &&
		      f[n - 1].module_off == 0x100, "[vdso]: module %s+0x%llx func %s", str(f[n - 1].module),
		      (unsigned long long)f[n - 1].module_off, str(f[n - 1].func));
	}
	CHECK(sym_refresh(s) == 0, "sym_refresh(self)");
	n = sym_lookup(s, leaf_ra, true, f, LT_MAX_FRAMES);
	CHECK(n >= 2 && !strcmp(str(f[n - 1].func), "tst_outer"), "after a refresh: %s", str(f[n - 1].func));
	sym_free(s);
	sym_free(NULL);
}

/* ---- JIT code described by /tmp/perf-PID.map ---- */

static char perf_map[64];

static void rm_perf_map(void)
{
	if (perf_map[0])
		unlink(perf_map);
}

static void test_perf_map(void)
{
	char *code = mmap(NULL, 8192, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (code == MAP_FAILED) {
		CHECK(0, "perf map: mmap: %s", strerror(errno));
		return;
	}
	snprintf(perf_map, sizeof(perf_map), "/tmp/perf-%d.map", (int)getpid());
	atexit(rm_perf_map);
	FILE *fp = fopen(perf_map, "w");
	if (!fp) {
		CHECK(0, "perf map: cannot write %s", perf_map);
		return;
	}
	fprintf(fp, "%llx 100 jitted_old\n%llx 80 LazyCompile:*foo bar.js:12\n%llx 40 jitted_new\n",
		(unsigned long long)(taddr_t)code, (unsigned long long)(taddr_t)code + 0x200,
		(unsigned long long)(taddr_t)code);
	fclose(fp);
	struct symbolizer *s = sym_new(getpid());
	struct sym_frame f[4];
	int n = sym_lookup(s, (taddr_t)code + 0x210, false, f, 4);
	CHECK(n == 1 && !strcmp(str(f[0].func), "LazyCompile:*foo bar.js:12") && f[0].func_off == 0x10 &&
	      f[0].module && strstr(f[0].module, "perf-"),
	      "perf map: %s+0x%llx in %s", str(f[0].func), (unsigned long long)f[0].func_off, str(f[0].module));
	n = sym_lookup(s, (taddr_t)code + 0x20, false, f, 4);
	CHECK(n == 1 && !strcmp(str(f[0].func), "jitted_new"), "perf map: the later entry wins: %s", str(f[0].func));
	n = sym_lookup(s, (taddr_t)code + 0x50, false, f, 4);
	CHECK(n == 1 && !strcmp(str(f[0].func), "jitted_old"), "perf map: beyond the later entry: %s", str(f[0].func));
	n = sym_lookup(s, (taddr_t)code + 0x1000, false, f, 4);
	CHECK(n == 1 && !f[0].func && !f[0].module, "perf map: outside every entry: address only");
	sym_free(s);
	munmap(code, 8192);
}

/* ---- modules that come (dlopen) and go (dlclose, then something else) ---- */

static void test_dlopen(void)
{
	struct symbolizer *s = sym_new(getpid());
	void *h = dlopen("libcrypt.so.1", RTLD_NOW | RTLD_LOCAL);
	void *fn = h ? dlsym(h, "crypt_r") : NULL;
	struct link_map *lm = NULL;
	if (!fn || dlinfo(h, RTLD_DI_LINKMAP, &lm) != 0) {
		printf("ok %d - # SKIP no libcrypt.so.1 to dlopen\n", ++checks);
		sym_free(s);
		return;
	}
	taddr_t lib_base = lm->l_addr;
	/* Lookups refresh by themselves, but at most every 100 ms. */
	usleep(150000);
	struct sym_frame f[LT_MAX_FRAMES];
	int n = sym_lookup(s, (taddr_t)fn, false, f, LT_MAX_FRAMES);
	CHECK(!strcmp(str(f[n - 1].func), "crypt_r") && strstr(str(f[n - 1].module), "libcrypt"),
	      "dlopen: new module found by the lookup itself: %s in %s", str(f[n - 1].func), str(f[n - 1].module));
	n = sym_lookup(s, lib_base + 0x1010, false, f, LT_MAX_FRAMES);
	CHECK(strstr(str(f[n - 1].module), "libcrypt"), "dlopen: its first page is in it");
	dlclose(h);
	CHECK(sym_refresh(s) == 0, "dlclose: sym_refresh");
	n = sym_lookup(s, (taddr_t)fn + 1, false, f, LT_MAX_FRAMES);
	CHECK(!strcmp(str(f[n - 1].func), "crypt_r") && f[n - 1].func_off == 1,
	      "dlclose: the unmapped module still symbolizes old stacks: %s+%llu", str(f[n - 1].func),
	      (unsigned long long)f[n - 1].func_off);

	/* Map another ELF file where the library was: it must replace the
	 * old module, and answers cached for the old one must go. */
	int fd = open("/proc/self/exe", O_RDONLY);
	void *p = fd >= 0 ? mmap((void *)lib_base, 0x10000, PROT_READ | PROT_EXEC,
				 MAP_PRIVATE | MAP_FIXED_NOREPLACE, fd, 0) : MAP_FAILED;
	if (fd >= 0)
		close(fd);
	if (p != (void *)lib_base) {
		printf("ok %d - # SKIP cannot map over the old library\n", ++checks);
	} else {
		CHECK(sym_refresh(s) == 0, "remapped: sym_refresh");
		n = sym_lookup(s, lib_base + 0x1010, false, f, LT_MAX_FRAMES);
		CHECK(ends_with(f[n - 1].module, "test_symbols") && f[n - 1].module_off == 0x1010,
		      "remapped: the new module answers for the old addresses: %s+0x%llx", str(f[n - 1].module),
		      (unsigned long long)f[n - 1].module_off);
		n = sym_lookup(s, leaf_ra, true, f, LT_MAX_FRAMES);
		CHECK(!strcmp(str(f[n - 1].func), "tst_outer"), "remapped: the real main program is untouched");
		munmap(p, 0x10000);
	}
	sym_free(s);
}

/* ---- a child that exits while we hold its symbolizer ---- */

static void test_exited_child(void)
{
	pid_t pid = fork();
	if (pid == 0) {
		for (;;)
			pause();
	}
	/* The child's mappings are ours: it was forked, not exec'd. Wait until
	 * it is past fork, so that its maps are readable. */
	usleep(20000);
	struct symbolizer *s = sym_new(pid);
	struct sym_frame f[LT_MAX_FRAMES];
	int n = sym_lookup(s, (taddr_t)tst_caller + 4, false, f, LT_MAX_FRAMES);
	CHECK(s && n >= 1 && !strcmp(str(f[n - 1].func), "tst_caller"), "child alive: %s", str(f[n - 1].func));
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	n = sym_lookup(s, (taddr_t)tst_outer + 4, false, f, LT_MAX_FRAMES);
	CHECK(n >= 1 && !strcmp(str(f[n - 1].func), "tst_outer") && ends_with(f[n - 1].module, "test_symbols"),
	      "child reaped: %s in %s", str(f[n - 1].func), str(f[n - 1].module));
	tst_outer(3);
	n = sym_lookup(s, leaf_ra, true, f, LT_MAX_FRAMES);
	CHECK(n >= 2 && f[0].line == inl_line && !strcmp(str(f[n - 1].func), "tst_outer"),
	      "child reaped: DWARF still read (%s:%d)", base(f[0].file), f[0].line);
	void *m = dlsym(RTLD_DEFAULT, "free");
	n = sym_lookup(s, (taddr_t)m, false, f, LT_MAX_FRAMES);
	CHECK(n >= 1 && f[n - 1].func && strstr(f[n - 1].func, "free") && strstr(str(f[n - 1].module), "libc.so"),
	      "child reaped: libc's %s in %s", str(f[n - 1].func), str(f[n - 1].module));
	CHECK(sym_refresh(s) < 0, "child reaped: sym_refresh fails harmlessly");
	n = sym_lookup(s, 0x1234, true, f, LT_MAX_FRAMES);
	CHECK(n == 1 && f[0].addr == 0x1234, "child reaped: unknown address gives the address");
	sym_free(s);
}

/* ---- a child whose executable was deleted: read through map_files ---- */

static void test_deleted_exe(const char *self)
{
	char copy[] = "/tmp/lt_test_symbols_XXXXXX";
	int out = mkstemp(copy);
	int in = open(self, O_RDONLY);
	char buf[65536];
	ssize_t r;
	bool ok = out >= 0 && in >= 0;
	while (ok && (r = read(in, buf, sizeof(buf))) > 0)
		ok = write(out, buf, (size_t)r) == r;
	if (in >= 0)
		close(in);
	if (out >= 0) {
		fchmod(out, 0700);
		close(out);
	}
	int p[2];
	if (!ok || pipe(p) < 0) {
		unlink(copy);
		CHECK(0, "deleted executable: cannot copy %s", self);
		return;
	}
	pid_t pid = fork();
	if (pid == 0) {
		dup2(p[1], 1);
		execl(copy, copy, "--child", (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	unsigned long long addr = 0;
	FILE *fp = fdopen(p[0], "r");
	if (fscanf(fp, "%llx", &addr) != 1)
		addr = 0;
	unlink(copy);
	struct symbolizer *s = sym_new(pid);
	struct sym_frame f[LT_MAX_FRAMES];
	int n = sym_lookup(s, addr + 4, false, f, LT_MAX_FRAMES);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	fclose(fp);
	CHECK(addr && n >= 1 && !strcmp(str(f[n - 1].func), "tst_caller") && ends_with(f[n - 1].module, " (deleted)"),
	      "deleted executable: %s in %s", str(f[n - 1].func), str(f[n - 1].module));
	sym_free(s);
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "--child")) {
		/* The deleted-executable test's child: say where tst_caller is, wait. */
		printf("%llx\n", (unsigned long long)(taddr_t)tst_caller);
		fflush(stdout);
		for (;;)
			pause();
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	test_maps();
	test_self();
	test_perf_map();
	test_dlopen();
	test_exited_child();
	test_deleted_exe("/proc/self/exe");
	printf("1..%d\n", checks);
	return failures ? 1 : 0;
}
