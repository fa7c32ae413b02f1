/* test_finder: the finder on this very process (process_vm_readv of our own
 * memory): which malloc it finds, the family of each allocator library
 * Debian ships, the C++ runtime's operators left to malloc, and the link
 * map's changes after dlopen and dlclose (the plugins of build/targets/,
 * which `make tests` builds). */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "finder.h"

static int failures, checks;
#define CHECK(cond, ...) do { checks++; if (cond) printf("ok %d - ", checks); \
	else { failures++; printf("not ok %d - ", checks); } printf(__VA_ARGS__); printf("\n"); } while (0)

static char dir[PATH_MAX];

/* Loads build/targets/name (beside build/unit/); NULL when it is missing. */
static void *load(const char *name, int flags)
{
	char path[PATH_MAX + 64];
	snprintf(path, sizeof(path), "%s/../targets/%s", dir, name);
	void *h = dlopen(path, flags);
	if (!h)
		printf("# dlopen %s: %s (make tests builds it)\n", path, dlerror());
	return h;
}

/* Returns the change of out[0..n) about a module whose name contains name. */
static const struct finder_change *change(const struct finder_change *c, int n, const char *name,
					  bool loaded)
{
	for (int i = 0; i < n; i++)
		if (c[i].loaded == loaded && strstr(c[i].module, name))
			return &c[i];
	return NULL;
}

int main(void)
{
	static struct finder_result f;
	static struct finder_change ch[8];
	char err[256] = "";
	ssize_t len = readlink("/proc/self/exe", dir, sizeof(dir) - 1);
	if (len <= 0)
		return 99;
	dir[len] = 0;
	for (int i = 0; i < 2; i++)
		*strrchr(dir, '/') = 0;	/* build/unit/x -> build */
	snprintf(dir + strlen(dir), sizeof(dir) - strlen(dir), "/unit");
	struct target t = { .pid = getpid(), .memfd = -1 };

	/* The machine's own libraries: %s is its arch (x86_64, aarch64). */
	static const struct { const char *path, *family; } libs[] = {
		{ "/lib/%s-linux-gnu/libc.so.6", "glibc" },
		{ "/lib/ld-musl-%s.so.1", "musl" },
		{ "/usr/lib/%s-linux-gnu/libjemalloc.so.2", "jemalloc" },
		{ "/usr/lib/%s-linux-gnu/libtcmalloc.so.4", "tcmalloc" },
		{ "/usr/lib/%s-linux-gnu/libtcmalloc_minimal.so.4", "tcmalloc" },
		{ "/usr/lib/%s-linux-gnu/libmimalloc.so.2", "mimalloc" },
		{ "/no/such/libfoo.so", "unknown" },
	};
	struct utsname un;
	uname(&un);
	for (size_t i = 0; i < sizeof(libs) / sizeof(libs[0]); i++) {
		char path[256];
		snprintf(path, sizeof(path), libs[i].path, un.machine);
		const char *fam = finder_family(getpid(), path);
		CHECK(!strcmp(fam, libs[i].family), "%s is %s (said %s)", path, libs[i].family, fam);
	}

	/* a plugin with its own operator new, loaded before the finder looks */
	void *a = load("libplug_new_a.so", RTLD_NOW | RTLD_LOCAL);
	int rc = finder_find(&t, &f, err, sizeof(err));
	CHECK(rc == 0 && f.fn[HK_MALLOC].addr == (taddr_t)(uintptr_t)dlsym(RTLD_DEFAULT, "malloc") &&
	      strstr(f.fn[HK_MALLOC].module, "libc.so.6") && !f.is_static,
	      "malloc is libc.so.6's, at the address the dynamic linker binds (%s)", err);
	CHECK(!strcmp(f.family, "glibc") && !strcmp(f.origin, "shared library"),
	      "family %s, origin %s", f.family, f.origin);
	CHECK(f.fn[HK_FREE].addr == (taddr_t)(uintptr_t)dlsym(RTLD_DEFAULT, "free"), "free too");
	CHECK(a && f.fn[HK_NEW].addr == (taddr_t)(uintptr_t)dlsym(a, "_Znwm") &&
	      strstr(f.fn[HK_NEW].module, "libplug_new_a.so") && f.fn[HK_NEW].lm,
	      "operator new: the plugin's own, the first definition in a C program");
	CHECK(!f.fn[HK_NEW_ARRAY].addr && !f.fn[HK_NEW_ARRAY].via_malloc,
	      "operator new[]: defined nowhere");
	CHECK(f.nobjs >= 4, "the link map at attach has %zu objects", f.nobjs);

	/* the C++ runtime's operators are left to malloc */
	void *cxx = dlopen("libstdc++.so.6", RTLD_NOW | RTLD_LOCAL);
	rc = finder_find(&t, &f, err, sizeof(err));
	CHECK(cxx && rc == 0 && !f.fn[HK_NEW_ARRAY].addr && f.fn[HK_NEW_ARRAY].via_malloc &&
	      strstr(f.fn[HK_NEW_ARRAY].module, "libstdc++"),
	      "operator new[]: libstdc++'s, not to be hooked (via malloc)");
	CHECK(f.fn[HK_NEW].addr && strstr(f.fn[HK_NEW].module, "libplug_new_a.so"),
	      "operator new: still the plugin's, which comes first");

	/* nothing changed yet */
	int n = finder_changes(&t, &f, ch, 8);
	CHECK(n == 0, "no change right after finding (%d)", n);

	/* an allocator loaded after, a hooked object unloaded */
	void *c = load("libplug_malloc.so", RTLD_NOW | RTLD_LOCAL);
	if (a)
		dlclose(a);
	n = finder_changes(&t, &f, ch, 8);
	const struct finder_change *lc = change(ch, n, "libplug_malloc.so", true);
	const struct finder_change *uc = change(ch, n, "libplug_new_a.so", false);
	CHECK(c && lc && !strcmp(lc->funcs, "malloc, free") && !strcmp(lc->family, "unknown"),
	      "libplug_malloc.so: loaded since, defines '%s'", lc ? lc->funcs : "?");
	CHECK(uc && !strcmp(uc->funcs, "operator new, operator delete"),
	      "libplug_new_a.so: unloaded, with the hooks of '%s'", uc ? uc->funcs : "?");
	CHECK(!change(ch, n, "libstdc++", true) && !change(ch, n, "libc.so", false),
	      "nothing else: %d changes", n);
	printf("%d checks, %d failed\n", checks, failures);
	return failures != 0;
}
