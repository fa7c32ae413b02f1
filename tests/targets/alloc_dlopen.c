/* alloc_dlopen: allocators that come and go with dlopen and dlclose.
 *
 * Usage: alloc_dlopen   (the plugins are found beside the executable)
 * Before "ready" it dlopen()s libplug_new_a.so, which defines operator new
 * and delete (a C program has no other: leaktrap hooks these). After
 * SIGUSR1:
 *   plug_new_leak   10 x operator new(300) of plug a (through dlsym): hooked
 *   plug_churn      100 x new and delete of plug a
 *   leak_malloc     20 x malloc(500): glibc's, hooked
 *   own_alloc_leak  dlopen()s libplug_malloc.so, which brings its own malloc
 *                   and free, and leaks 10 x its malloc(400) (through
 *                   dlsym): leaktrap does not hook an allocator loaded after
 *                   attach, so it reports none of them (count 0)
 * then dlclose()s plug a (it must be gone: "FAIL" otherwise) and puts
 * something else where plug a's operator new was: libplug_new_b.so when
 * the dynamic linker maps it there (its operator new starts differently),
 * else a page of its own. It keeps the bytes found there and prints
 * "replaced_by plug_b|page", the truth, "done". On SIGTERM (after leaktrap
 * detached) it checks that those bytes are unchanged and that plug b still
 * works: exit 0, or 95 with a FAIL line.
 */
#define _GNU_SOURCE	/* Dl_info, dladdr */
#include <dlfcn.h>
#include <limits.h>
#include <sys/mman.h>
#include "target.h"

static char dir[PATH_MAX];
static void *kept[64];
static int nkept, line_plug_new, line_malloc;

/* Loads dir/name; exits 98 when it cannot. */
static void *load(const char *name, int flags)
{
	char path[PATH_MAX + 64];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	void *h = dlopen(path, flags);
	if (!h) {
		say("FAIL dlopen %s: %s\n", path, dlerror());
		exit(98);
	}
	return h;
}

/* Returns symbol name of h; exits 98 when it is missing. */
static void *sym(void *h, const char *name)
{
	void *p = dlsym(h, name);
	if (!p) {
		say("FAIL dlsym %s: %s\n", name, dlerror());
		exit(98);
	}
	return p;
}

NOINLINE void plug_new_leak(void *(*nw)(size_t))
{
	for (int i = 0; i < 10; i++) {
		void *p = nw(300); line_plug_new = __LINE__;
		touch(p, 300);
		kept[nkept++] = p;
	}
}

NOINLINE void plug_churn(void *(*nw)(size_t), void (*del)(void *))
{
	for (int i = 0; i < 100; i++) {
		void *p = nw(64);
		touch(p, 64);
		del(p);
	}
}

NOINLINE void leak_malloc(void)
{
	for (int i = 0; i < 20; i++) {
		void *p = malloc(500); line_malloc = __LINE__;
		touch(p, 500);
		kept[nkept++] = p;
	}
}

/* dlopen() allocates too (glibc's malloc, live while the library is): not
 * in own_alloc_leak's frame. */
NOINLINE void *(*load_own_alloc(void))(size_t)
{
	return sym(load("libplug_malloc.so", RTLD_NOW | RTLD_LOCAL), "malloc");
}

NOINLINE void own_alloc_leak(void *(*own_malloc)(size_t))
{
	for (int i = 0; i < 10; i++) {
		void *p = own_malloc(400);
		touch(p, 400);
		kept[nkept++] = p;
	}
}

int main(void)
{
	ssize_t n = readlink("/proc/self/exe", dir, sizeof(dir) - 1);
	if (n <= 0)
		return 98;
	dir[n] = 0;
	*strrchr(dir, '/') = 0;
	block_protocol_signals();
	void *a = load("libplug_new_a.so", RTLD_NOW | RTLD_LOCAL);
	void *(*nw)(size_t) = sym(a, "_Znwm");
	void (*del)(void *) = sym(a, "_ZdlPv");
	announce_ready();
	wait_signal(SIGUSR1);

	plug_new_leak(nw);
	plug_churn(nw, del);
	leak_malloc();
	own_alloc_leak(load_own_alloc());

	/* plug a goes; something else takes the place of its operator new */
	uint8_t *old_new = (uint8_t *)nw;
	Dl_info ia;
	dladdr((void *)nw, &ia);
	dlclose(a);
	char path[PATH_MAX + 64];
	snprintf(path, sizeof(path), "%s/libplug_new_a.so", dir);
	if (dlopen(path, RTLD_NOW | RTLD_NOLOAD)) {
		say("FAIL plug a is still loaded after dlclose\n");
		return 95;
	}
	void *b = load("libplug_new_b.so", RTLD_NOW | RTLD_LOCAL);
	void *(*nw_b)(size_t) = sym(b, "_Znwm");
	int (*id_b)(void) = sym(b, "plug_id");
	Dl_info ib;
	dladdr((void *)nw_b, &ib);
	const char *by = "plug_b";
	if (ib.dli_fbase != ia.dli_fbase) {
		uintptr_t page = (uintptr_t)old_new & ~(uintptr_t)4095;
		void *m = mmap((void *)page, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
		if (m == MAP_FAILED) {
			say("FAIL nothing can be mapped where plug a's operator new was\n");
			return 95;
		}
		memset(m, 0x90, 4096);
		by = "page";
	}
	uint8_t seen[16];
	memcpy(seen, old_new, sizeof(seen));
	say("replaced_by %s (plug a at %p, plug b at %p)\n", by, ia.dli_fbase, ib.dli_fbase);

	site_line("plug_new_leak", 10, 10L * 300, line_plug_new);
	site_line("plug_churn", 0, 0, 0);
	site_line("leak_malloc", 20, 20L * 500, line_malloc);
	site_line("own_alloc_leak", 0, 0, 0);
	say("done\n");

	wait_signal(SIGTERM);
	if (memcmp(seen, old_new, sizeof(seen))) {
		say("FAIL the bytes where plug a's operator new was changed after done\n");
		return 95;
	}
	void *p = nw_b(100);
	if (id_b() != 'b' || !p) {
		say("FAIL plug b does not work any more\n");
		return 95;
	}
	use_ptr(kept);
	return 0;
}
