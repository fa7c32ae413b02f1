/*
 * symbols: target code addresses to function, module and file:line, with
 * elfutils' libdwfl.
 *
 * Modules come from the target's maps, not from dwfl_linux_proc_report: we
 * open every file ourselves through /proc/PID/root (the target's own
 * filesystem, for containers), /proc/PID/map_files (deleted or unreachable
 * files) or the plain path, and hand libdwfl the descriptor. libdwfl keeps
 * it, so the report can still be symbolized after the target died. Modules
 * whose mappings went away (dlclose) are kept as long as nothing else was
 * mapped over them, since stacks recorded earlier still point into them.
 *
 * Function names come from .symtab/.dynsym (or the build-id debug file that
 * dwfl_standard_find_debuginfo finds), file:line and inlined frames from
 * DWARF, JIT code from /tmp/perf-PID.map. Every answer is cached per address
 * and every string is interned in an arena that lives as long as the
 * symbolizer. A symbolizer is not thread-safe.
 */
#include <dlfcn.h>
#include <dwarf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <elfutils/libdwfl.h>

#include "maps.h"
#include "symbols.h"

#define MAX_INLINE 32                    /* entries kept for one address */
#define REFRESH_GAP_NS 100000000ULL      /* a lookup refreshes at most every 100 ms */
#define ARENA_CHUNK 65536

/* __cxa_demangle's signature; it is looked up in libstdc++ at run time
 * because leaktrap does not link the C++ runtime. */
typedef char *(*demangle_fn)(const char *mangled, char *buf, size_t *len, int *status);

/* A block of the string arena; blocks are only freed all together. */
struct chunk {
	struct chunk *next;
	size_t used, cap;
	char data[];
};

/* A function symbol of a module, the best-named one of those at its address. */
struct fsym {
	taddr_t addr;            /* absolute, as libdwfl adjusts it */
	uint64_t size;
	const char *name;        /* in the module's ELF string table */
};

/* A module's function symbols sorted by address: libdwfl's own address
 * lookup scans the whole symbol table each time (~200 us for libc). Hung
 * on the module's libdwfl userdata, freed when the module goes. */
struct modsyms {
	struct fsym *v;
	size_t n;
};

/* A module we reported to libdwfl, or a mapping we failed to read (mod NULL). */
struct kmod {
	const char *name;        /* the path in the maps (interned) */
	unsigned long inode;
	taddr_t lo, hi;          /* the module's span; the mapping's for failures */
	Dwfl_Module *mod;
	bool present;            /* still mapped at the last refresh */
};

/* A file we opened for a new module, before it is reported. */
struct newmod {
	const struct map *mp;
	int fd;
	char file[4200];         /* the name libdwfl searches debug files next to */
	taddr_t bias, lo, hi;
};

/* A cached answer: frames[first .. first + n) for one address. */
struct centry {
	taddr_t addr;
	uint32_t first;          /* index in frames */
	uint32_t gen;            /* s->gen when computed */
	uint8_t n;
	bool used, is_return;
	bool stable;             /* found in a module: never recomputed */
};

/* One line of a perf map: [start, end) is JIT code called name. */
struct perf_ent {
	taddr_t start, end;
	const char *name;
	size_t seq;              /* line number: a later line wins over an older one */
};

struct symbolizer {
	pid_t pid;
	unsigned long long starttime;   /* tells our target from a later one with its pid */
	bool gone;
	Dwfl *dwfl;
	Dwfl_Callbacks cb;
	char *debuginfo_path;
	bool same_root;          /* /proc/PID/root is our "/" */
	struct maps maps;        /* as of the last refresh */
	struct kmod *km;
	size_t nkm, capkm;
	uint32_t gen;            /* bumped whenever modules or perf entries are added */
	uint64_t last_refresh_ns;
	long pagesize;

	/* interned strings */
	struct chunk *arena;
	const char **strs;
	size_t nstrs, capstrs;   /* capstrs is a power of two */

	/* per-address cache */
	struct centry *cache;
	size_t ncache, capcache; /* capcache is a power of two */
	struct sym_frame *frames;
	size_t nframes, capframes;

	/* C++ demangler, loaded on the first mangled name */
	bool demangle_tried;
	void *stdcxx;
	demangle_fn demangle;

	/* perf map for JIT code */
	char perf_path[2][96];
	int perf_which;          /* index into perf_path, -1 none loaded */
	dev_t perf_dev;
	ino_t perf_ino;
	off_t perf_off;          /* bytes consumed: the file only grows */
	struct perf_ent *perf;
	size_t nperf, capperf;
	uint64_t perf_checked_ns;
	const char *perf_module;
};

/* Returns CLOCK_MONOTONIC in nanoseconds. */
static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* ---- interned strings ---- */

/* Returns the FNV-1a hash of the n bytes at s. */
static uint64_t hash_bytes(const char *s, size_t n)
{
	uint64_t h = 14695981039346656037ULL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
	return h;
}

/* Copies n bytes plus a NUL into the arena; returns the copy or NULL. */
static char *arena_dup(struct symbolizer *s, const char *p, size_t n)
{
	struct chunk *c = s->arena;
	if (!c || c->cap - c->used < n + 1) {
		size_t cap = n + 1 > ARENA_CHUNK ? n + 1 : ARENA_CHUNK;
		c = malloc(sizeof(*c) + cap);
		if (!c)
			return NULL;
		c->next = s->arena;
		c->used = 0;
		c->cap = cap;
		s->arena = c;
	}
	char *d = c->data + c->used;
	memcpy(d, p, n);
	d[n] = '\0';
	c->used += n + 1;
	return d;
}

/* Returns the symbolizer's copy of str (one per distinct string), or NULL
 * for NULL or when out of memory. */
static const char *intern(struct symbolizer *s, const char *str)
{
	if (!str)
		return NULL;
	if (s->nstrs * 2 >= s->capstrs) {
		size_t nc = s->capstrs ? s->capstrs * 2 : 1024;
		const char **nt = calloc(nc, sizeof(*nt));
		if (!nt)
			return NULL;
		for (size_t i = 0; i < s->capstrs; i++) {
			if (!s->strs[i])
				continue;
			size_t j = hash_bytes(s->strs[i], strlen(s->strs[i])) & (nc - 1);
			while (nt[j])
				j = (j + 1) & (nc - 1);
			nt[j] = s->strs[i];
		}
		free(s->strs);
		s->strs = nt;
		s->capstrs = nc;
	}
	size_t n = strlen(str);
	size_t j = hash_bytes(str, n) & (s->capstrs - 1);
	for (; s->strs[j]; j = (j + 1) & (s->capstrs - 1))
		if (!strcmp(s->strs[j], str))
			return s->strs[j];
	char *d = arena_dup(s, str, n);
	if (d) {
		s->strs[j] = d;
		s->nstrs++;
	}
	return d;
}

/* Returns the interned, demangled form of a symbol name (the name itself
 * when it is not mangled or no demangler is available), without a symbol
 * version ("pthread_create@GLIBC_2.2.5" is pthread_create). */
static const char *func_name(struct symbolizer *s, const char *name)
{
	const char *at = name ? strchr(name, '@') : NULL;
	if (at && at != name) {
		char buf[1024];
		snprintf(buf, sizeof(buf), "%.*s", (int)(at - name), name);
		return func_name(s, buf);
	}
	if (!name || strncmp(name, "_Z", 2))
		return intern(s, name);
	if (!s->demangle_tried) {
		s->demangle_tried = true;
		s->stdcxx = dlopen("libstdc++.so.6", RTLD_LAZY | RTLD_LOCAL);
		if (s->stdcxx)
			s->demangle = (demangle_fn)dlsym(s->stdcxx, "__cxa_demangle");
	}
	int status = -1;
	char *d = s->demangle ? s->demangle(name, NULL, NULL, &status) : NULL;
	const char *r = intern(s, d && status == 0 ? d : name);
	free(d);
	return r;
}

/* ---- the per-address cache ---- */

/* Returns the slot hashing addr/is_return: either its entry or a free one. */
static struct centry *cache_slot(struct symbolizer *s, taddr_t addr, bool is_return)
{
	size_t mask = s->capcache - 1;
	size_t j = (size_t)(((addr << 1 | is_return) * 0x9E3779B97F4A7C15ULL) >> 20) & mask;
	while (s->cache[j].used && (s->cache[j].addr != addr || s->cache[j].is_return != is_return))
		j = (j + 1) & mask;
	return &s->cache[j];
}

/* Stores the n frames for addr in the cache; returns 0 or -ENOMEM. */
static int cache_put(struct symbolizer *s, taddr_t addr, bool is_return,
		     const struct sym_frame *fr, int n, bool stable)
{
	if ((s->ncache + 1) * 2 > s->capcache) {
		size_t oc = s->capcache, nc = oc ? oc * 2 : 4096;
		struct centry *old = s->cache, *nt = calloc(nc, sizeof(*nt));
		if (!nt)
			return -ENOMEM;
		s->cache = nt;
		s->capcache = nc;
		for (size_t i = 0; i < oc; i++)
			if (old[i].used)
				*cache_slot(s, old[i].addr, old[i].is_return) = old[i];
		free(old);
	}
	if (s->nframes + (size_t)n > s->capframes) {
		size_t nc = s->capframes ? s->capframes * 2 : 8192;
		while (nc < s->nframes + (size_t)n)
			nc *= 2;
		struct sym_frame *nf = realloc(s->frames, nc * sizeof(*nf));
		if (!nf)
			return -ENOMEM;
		s->frames = nf;
		s->capframes = nc;
	}
	struct centry *e = cache_slot(s, addr, is_return);
	if (!e->used)
		s->ncache++;
	/* A recomputed entry leaves its old frames behind in the array: rare
	 * (only unresolved addresses are recomputed) and freed with the rest. */
	*e = (struct centry){ .addr = addr, .is_return = is_return, .used = true,
			      .first = (uint32_t)s->nframes, .n = (uint8_t)n,
			      .gen = s->gen, .stable = stable };
	memcpy(s->frames + s->nframes, fr, (size_t)n * sizeof(*fr));
	s->nframes += (size_t)n;
	return 0;
}

/* Forgets every cached answer (the strings stay valid). */
static void cache_clear(struct symbolizer *s)
{
	if (s->cache)
		memset(s->cache, 0, s->capcache * sizeof(*s->cache));
	s->ncache = 0;
	s->nframes = 0;
}

/* ---- perf maps (JIT code) ---- */

/* Orders perf entries by start, then by line, for qsort. */
static int cmp_perf(const void *a, const void *b)
{
	const struct perf_ent *x = a, *y = b;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Parses complete "START SIZE name" lines of text[0..len) into s->perf;
 * returns the number of bytes consumed (up to the last newline). */
static size_t perf_parse(struct symbolizer *s, const char *text, size_t len)
{
	size_t used = 0;
	while (used < len) {
		const char *line = text + used;
		const char *nl = memchr(line, '\n', len - used);
		if (!nl)
			break;   /* the JIT is still writing this line */
		used = (size_t)(nl - text) + 1;
		char *end;
		unsigned long long start = strtoull(line, &end, 16);
		if (end == line || (*end != ' ' && *end != '\t'))
			continue;
		char *p = end;
		unsigned long long size = strtoull(p, &end, 16);
		if (end == p || (*end != ' ' && *end != '\t') || size == 0)
			continue;
		while (*end == ' ' || *end == '\t')
			end++;
		size_t nlen = (size_t)(nl - end);
		if (nlen && end[nlen - 1] == '\r')
			nlen--;
		if (s->nperf == s->capperf) {
			size_t nc = s->capperf ? s->capperf * 2 : 256;
			struct perf_ent *np = realloc(s->perf, nc * sizeof(*np));
			if (!np)
				break;
			s->perf = np;
			s->capperf = nc;
		}
		char tmp[512];
		snprintf(tmp, sizeof(tmp), "%.*s", (int)(nlen < sizeof(tmp) ? nlen : sizeof(tmp) - 1), end);
		const char *name = intern(s, tmp);
		if (!name)
			break;
		s->perf[s->nperf] = (struct perf_ent){ start, start + size, name, s->nperf };
		s->nperf++;
	}
	return used;
}

/* Reads what was appended to the perf map since the last call (all of it
 * when the file is new); returns true if entries were added. */
static bool perf_load(struct symbolizer *s)
{
	uint64_t t = now_ns();
	if (s->perf_checked_ns && t - s->perf_checked_ns < REFRESH_GAP_NS)
		return false;
	s->perf_checked_ns = t;
	for (int i = 0; i < 2; i++) {
		if (!s->perf_path[i][0])
			continue;
		int fd = open(s->perf_path[i], O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		struct stat st;
		if (fstat(fd, &st) < 0) {
			close(fd);
			continue;
		}
		if (i != s->perf_which || st.st_dev != s->perf_dev || st.st_ino != s->perf_ino ||
		    st.st_size < s->perf_off) {
			/* A different file: start over (the old strings stay interned). */
			s->nperf = 0;
			s->perf_off = 0;
			s->perf_which = i;
			s->perf_dev = st.st_dev;
			s->perf_ino = st.st_ino;
		}
		size_t old = s->nperf;
		size_t len = (size_t)(st.st_size - s->perf_off);
		char *buf = len ? malloc(len) : NULL;
		ssize_t r = buf ? pread(fd, buf, len, s->perf_off) : 0;
		if (r > 0)
			s->perf_off += (off_t)perf_parse(s, buf, (size_t)r);
		free(buf);
		close(fd);
		if (s->nperf == old)
			return false;
		qsort(s->perf, s->nperf, sizeof(*s->perf), cmp_perf);
		s->gen++;
		return true;
	}
	return false;
}

/* Returns the perf map entry containing addr (the latest one when code was
 * replaced at the same place), or NULL. */
static const struct perf_ent *perf_find(const struct symbolizer *s, taddr_t addr)
{
	size_t lo = 0, hi = s->nperf;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->perf[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* Entries may overlap when a JIT reuses memory; look back a little
	 * for the newest entry that covers addr. */
	const struct perf_ent *best = NULL;
	for (size_t i = lo, k = 0; i > 0 && k < 64; i--, k++) {
		const struct perf_ent *e = &s->perf[i - 1];
		if (addr < e->end && (!best || e->seq > best->seq))
			best = e;
	}
	return best;
}

/* ---- function symbols ---- */

/* Returns how much a name is to be preferred among aliases at one address,
 * lower first: exported (global or weak) over local, then the fewest leading
 * underscores ("malloc" over "__libc_malloc"), then the shortest. */
static unsigned sym_rank(const GElf_Sym *sym, const char *name)
{
	unsigned bind = GELF_ST_BIND(sym->st_info);
	unsigned r = bind == STB_LOCAL;
	size_t us = strspn(name, "_"), len = strlen(name);
	return r << 24 | (unsigned)(us > 255 ? 255 : us) << 16 | (unsigned)(len > 65535 ? 65535 : len);
}

/* A candidate while building a module's function table. */
struct fsym_build {
	struct fsym f;
	unsigned rank;
};

/* Orders candidate symbols by address, then best first, for qsort. */
static int cmp_fsym(const void *a, const void *b)
{
	const struct fsym_build *x = a, *y = b;
	if (x->f.addr != y->f.addr)
		return x->f.addr < y->f.addr ? -1 : 1;
	if ((x->f.size == 0) != (y->f.size == 0))
		return x->f.size == 0 ? 1 : -1;   /* sized first */
	if (x->rank != y->rank)
		return x->rank < y->rank ? -1 : 1;
	return strcmp(x->f.name, y->f.name);
}

/* Whether section shndx of elf holds code. */
static bool is_code_section(Elf *elf, GElf_Word shndx)
{
	GElf_Shdr sh;
	Elf_Scn *scn = elf ? elf_getscn(elf, shndx) : NULL;
	return scn && gelf_getshdr(scn, &sh) && (sh.sh_flags & SHF_EXECINSTR);
}

/* Builds the sorted function table of mod; returns it (empty when the module
 * has no symbols), or NULL when out of memory. */
static struct modsyms *modsyms_build(Dwfl_Module *mod)
{
	struct modsyms *ms = calloc(1, sizeof(*ms));
	int total = dwfl_module_getsymtab(mod);
	struct fsym_build *b = total > 0 ? malloc((size_t)total * sizeof(*b)) : NULL;
	if (!ms || (total > 0 && !b)) {
		free(ms);
		free(b);
		return NULL;
	}
	size_t n = 0;
	for (int i = 1; i < total; i++) {
		GElf_Sym sym;
		GElf_Addr addr;
		GElf_Word shndx;
		Elf *elf = NULL;
		const char *name = dwfl_module_getsym_info(mod, i, &sym, &addr, &shndx, &elf, NULL);
		if (!name || !*name || shndx == SHN_UNDEF || shndx == SHN_ABS || (GElf_Sword)shndx == -1)
			continue;
		int type = GELF_ST_TYPE(sym.st_info);
		/* Untyped symbols count only in code: labels of assembly functions. */
		if (type != STT_FUNC && type != STT_GNU_IFUNC &&
		    !(type == STT_NOTYPE && is_code_section(elf, shndx)))
			continue;
		b[n++] = (struct fsym_build){ { addr, sym.st_size, name }, sym_rank(&sym, name) };
	}
	if (n)
		qsort(b, n, sizeof(*b), cmp_fsym);
	ms->v = n ? malloc(n * sizeof(*ms->v)) : NULL;
	for (size_t i = 0; ms->v && i < n; i++) {
		/* The first at each address is the best named; aliases go. */
		if (ms->n && ms->v[ms->n - 1].addr == b[i].f.addr)
			continue;
		ms->v[ms->n++] = b[i].f;
	}
	free(b);
	return ms;
}

/* Returns the function symbol containing addr in mod (building the table on
 * first use), or NULL. */
static const struct fsym *modsyms_find(Dwfl_Module *mod, taddr_t addr)
{
	void **ud = NULL;
	dwfl_module_info(mod, &ud, NULL, NULL, NULL, NULL, NULL, NULL);
	if (!ud)
		return NULL;
	if (!*ud)
		*ud = modsyms_build(mod);
	const struct modsyms *ms = *ud;
	if (!ms)
		return NULL;
	size_t lo = 0, hi = ms->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (ms->v[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	const struct fsym *f = &ms->v[lo - 1];
	if (f->size == 0 || addr < f->addr + f->size)
		return f;   /* an unsized symbol reaches up to the next one */
	/* A symbol nested in a bigger one (rare): look back a little. */
	for (size_t i = lo - 1, k = 0; i > 0 && k < 8; i--, k++)
		if (addr < ms->v[i - 1].addr + ms->v[i - 1].size)
			return &ms->v[i - 1];
	return NULL;
}

/* Frees the function table of a module libdwfl removes; a dwfl_report_end
 * and dwfl_getmodules callback. */
static int modsyms_free(Dwfl_Module *mod, void **ud, const char *name, Dwarf_Addr base, void *arg)
{
	(void)mod, (void)name, (void)base, (void)arg;
	struct modsyms *ms = *ud;
	if (ms) {
		free(ms->v);
		free(ms);
		*ud = NULL;
	}
	return DWARF_CB_OK;
}

/* dwfl_report_end's removal callback: its void * is in fact the void **
 * that dwfl_getmodules passes (libdwfl's MODCB_ARGS), whatever the prototype says. */
static int modsyms_removed(Dwfl_Module *mod, void *ud, const char *name, Dwarf_Addr base, void *arg)
{
	return modsyms_free(mod, ud, name, base, arg);
}

/* ---- modules ---- */

/* Reads the start time of pid from /proc/PID/stat; returns it, or 0. */
static unsigned long long proc_starttime(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* comm may hold spaces and parentheses: fields restart after the last ')'. */
	char *p = strrchr(buf, ')');
	if (!p)
		return 0;
	/* starttime is field 22; the blank after ")" starts field 3. */
	for (int field = 3; field <= 22 && p; field++)
		p = strchr(p + 1, ' ');
	return p ? strtoull(p + 1, NULL, 10) : 0;
}

/* Reads pid's own number in its innermost pid namespace; returns it, or pid. */
static pid_t proc_nspid(pid_t pid)
{
	char path[64], buf[4096];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return pid;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return pid;
	buf[n] = '\0';
	char *p = strstr(buf, "\nNSpid:");
	if (!p)
		return pid;
	p += 7;
	pid_t last = pid;
	for (;;) {
		char *end;
		long v = strtol(p, &end, 10);
		if (end == p)
			break;
		last = (pid_t)v;
		p = end;
	}
	return last;
}

/* Whether the path in the maps names a file (possibly deleted). */
static bool is_file(const struct map *mp)
{
	return mp->path[0] == '/';
}

/* Whether a mapping has no file behind it: plain or named ("[anon:...]") anonymous memory. */
static bool is_anon(const struct map *mp)
{
	return !mp->path[0] || !strncmp(mp->path, "[anon", 5);
}

/* Opens the file behind mp for reading, trying the target's own root, the
 * map_files link, then our own view; returns the fd or -1, and in file the
 * name libdwfl should search for debug files next to. */
static int open_mapping(const struct symbolizer *s, const struct map *mp, char *file, size_t fsz)
{
	size_t len = strlen(mp->path);
	static const char del[] = " (deleted)";
	/* Unlinked: only map_files still reaches the very file that is mapped. */
	bool deleted = len > sizeof(del) - 1 && !strcmp(mp->path + len - (sizeof(del) - 1), del);
	int fd;
	if (!deleted) {
		snprintf(file, fsz, "/proc/%d/root%s", (int)s->pid, mp->path);
		fd = open(file, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			/* Searching debug files next to the plain path also finds
			 * .debug directories and debuglinks, when the roots agree. */
			if (s->same_root)
				snprintf(file, fsz, "%s", mp->path);
			return fd;
		}
	}
	snprintf(file, fsz, "/proc/%d/map_files/%llx-%llx", (int)s->pid,
		 (unsigned long long)mp->start, (unsigned long long)mp->end);
	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (!deleted)
			snprintf(file, fsz, "%s", mp->path);
		return fd;
	}
	if (deleted)
		return -1;
	snprintf(file, fsz, "%s", mp->path);
	return open(file, O_RDONLY | O_CLOEXEC);
}

/* Copies the [vdso] image out of the target into a memfd, since it exists
 * in no file; returns the fd or -1. */
static int open_vdso(const struct symbolizer *s, const struct map *mp)
{
	char path[64];
	size_t len = (size_t)(mp->end - mp->start);
	if (len == 0 || len > (64 << 20))
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)s->pid);
	int mfd = open(path, O_RDONLY | O_CLOEXEC);
	if (mfd < 0)
		return -1;
	char *buf = malloc(len);
	ssize_t r = buf ? pread(mfd, buf, len, (off_t)mp->start) : -1;
	close(mfd);
	int fd = -1;
	if (r == (ssize_t)len && (fd = memfd_create("leaktrap-vdso", MFD_CLOEXEC)) >= 0 &&
	    write(fd, buf, len) != (ssize_t)len) {
		close(fd);
		fd = -1;
	}
	free(buf);
	return fd;
}

/* Computes the load bias and the span libdwfl will give the ELF file on fd
 * mapped by mp; returns 0, or -1 when it is not an ELF file that mp maps. */
static int elf_layout(int fd, const struct map *mp, long pagesize, struct newmod *nm)
{
	Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	GElf_Ehdr eh;
	size_t phnum;
	int rc = -1;
	if (!elf || elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &eh) ||
	    elf_getphdrnum(elf, &phnum) != 0)
		goto out;
	bool found = false, first = true;
	taddr_t vlo = 0, vhi = 0, bias = 0;
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		/* The same span as libdwfl's __libdwfl_elf_address_range. */
		if (first)
			vlo = ph.p_vaddr & -(ph.p_align ? ph.p_align : 1);
		first = false;
		if (ph.p_vaddr + ph.p_memsz > vhi)
			vhi = ph.p_vaddr + ph.p_memsz;
		/* The segment holding the mapping's file offset: the byte at file
		 * offset O of it sits at bias + p_vaddr + (O - p_offset). */
		uint64_t pg_off = ph.p_offset & ~(uint64_t)(pagesize - 1);
		if (!found && mp->offset >= pg_off && mp->offset < ph.p_offset + (ph.p_filesz ? ph.p_filesz : 1)) {
			bias = mp->start - (ph.p_vaddr + mp->offset - ph.p_offset);
			found = true;
		}
	}
	if (!found || first)
		goto out;
	/* An executable is loaded where it was linked: libdwfl ignores the base. */
	if (eh.e_type == ET_EXEC)
		bias = 0;
	nm->bias = bias;
	nm->lo = bias + vlo;
	nm->hi = bias + vhi;
	rc = 0;
out:
	if (elf)
		elf_end(elf);
	return rc;
}

/* Returns the known module (or failed mapping) that mp belongs to, or NULL. */
static struct kmod *known_find(struct symbolizer *s, const struct map *mp)
{
	for (size_t i = 0; i < s->nkm; i++) {
		struct kmod *k = &s->km[i];
		if (k->inode == mp->inode && mp->start >= k->lo && mp->start < k->hi &&
		    !strcmp(k->name, mp->path))
			return k;
	}
	return NULL;
}

/* Appends a known-module record; returns it, or NULL when out of memory. */
static struct kmod *known_add(struct symbolizer *s, const struct map *mp, taddr_t lo, taddr_t hi)
{
	if (s->nkm == s->capkm) {
		size_t nc = s->capkm ? s->capkm * 2 : 64;
		struct kmod *nk = realloc(s->km, nc * sizeof(*nk));
		if (!nk)
			return NULL;
		s->km = nk;
		s->capkm = nc;
	}
	const char *name = intern(s, mp->path);
	if (!name)
		return NULL;
	struct kmod *k = &s->km[s->nkm++];
	*k = (struct kmod){ .name = name, .inode = mp->inode, .lo = lo, .hi = hi, .present = true };
	return k;
}

int sym_refresh(struct symbolizer *s)
{
	s->last_refresh_ns = now_ns();
	if (s->gone)
		return -ESRCH;
	struct maps m;
	int rc = maps_read(s->pid, &m);
	/* The pid may already belong to another process: then ours is gone,
	 * and what we have is all we will ever have. */
	if (rc == 0 && proc_starttime(s->pid) != s->starttime)
		rc = -ESRCH;
	if (rc < 0) {
		if (rc == -ENOENT || rc == -ESRCH) {
			s->gone = true;
			rc = -ESRCH;
		}
		maps_free(&m);
		return rc;
	}

	for (size_t i = 0; i < s->nkm; i++)
		s->km[i].present = false;
	struct newmod *nm = NULL;
	size_t nnew = 0, capnew = 0;
	for (size_t i = 0; i < m.n; i++) {
		const struct map *mp = &m.v[i];
		bool vdso = !strcmp(mp->path, "[vdso]");
		if (mp->perms[2] != 'x' || (!is_file(mp) && !vdso))
			continue;
		struct kmod *k = known_find(s, mp);
		if (k) {
			k->present = true;
			continue;
		}
		bool dup = false;
		for (size_t j = 0; j < nnew && !dup; j++)
			dup = nm[j].mp->inode == mp->inode && mp->start >= nm[j].lo &&
			      mp->start < nm[j].hi && !strcmp(nm[j].mp->path, mp->path);
		if (dup)
			continue;   /* a second executable mapping of a new module */
		if (nnew == capnew) {
			size_t nc = capnew ? capnew * 2 : 16;
			struct newmod *nn = realloc(nm, nc * sizeof(*nn));
			if (!nn)
				break;
			nm = nn;
			capnew = nc;
		}
		struct newmod *n = &nm[nnew];
		n->mp = mp;
		if (vdso) {
			n->fd = open_vdso(s, mp);
			snprintf(n->file, sizeof(n->file), "[vdso]");
		} else {
			n->fd = open_mapping(s, mp, n->file, sizeof(n->file));
		}
		if (n->fd < 0 || elf_layout(n->fd, mp, s->pagesize, n) < 0) {
			/* Remember the failure so that we do not retry every refresh. */
			if (n->fd >= 0)
				close(n->fd);
			known_add(s, mp, mp->start, mp->end);
			continue;
		}
		nnew++;
	}

	/* A module that was unmapped stays, for the stacks recorded while it
	 * was there, unless something new now lives at its addresses. */
	size_t kept = 0;
	bool dropped = false;
	for (size_t i = 0; i < s->nkm; i++) {
		struct kmod *k = &s->km[i];
		bool drop = false;
		for (size_t j = 0; j < nnew && !k->present && !drop; j++)
			drop = k->lo < nm[j].hi && nm[j].lo < k->hi;
		if (drop)
			dropped |= k->mod != NULL;
		else
			s->km[kept++] = *k;
	}
	s->nkm = kept;

	if (dropped) {
		/* Only a full report removes modules; re-reporting a module by
		 * name and span keeps libdwfl's existing one, with its ELF. */
		dwfl_report_begin(s->dwfl);
		for (size_t i = 0; i < s->nkm; i++)
			if (s->km[i].mod)
				s->km[i].mod = dwfl_report_module(s->dwfl, s->km[i].name,
								  s->km[i].lo, s->km[i].hi);
		dwfl_report_end(s->dwfl, modsyms_removed, NULL);
		cache_clear(s);
	}
	if (nnew) {
		dwfl_report_begin_add(s->dwfl);
		for (size_t j = 0; j < nnew; j++) {
			struct newmod *n = &nm[j];
			struct kmod *k = known_add(s, n->mp, n->lo, n->hi);
			Dwfl_Module *mod = k ? dwfl_report_elf(s->dwfl, n->mp->path, n->file, n->fd,
								n->bias, true) : NULL;
			if (!mod) {
				/* libdwfl takes the fd only on success */
				close(n->fd);
				if (k) {
					/* kept as a failure, matched by its mapping */
					k->lo = n->mp->start;
					k->hi = n->mp->end;
				}
				continue;
			}
			Dwarf_Addr lo, hi;
			dwfl_module_info(mod, NULL, &lo, &hi, NULL, NULL, NULL, NULL);
			k->lo = lo;
			k->hi = hi;
			k->mod = mod;
		}
		dwfl_report_end(s->dwfl, NULL, NULL);
		s->gen++;
	}
	free(nm);
	maps_free(&s->maps);
	s->maps = m;
	return 0;
}

struct symbolizer *sym_new(pid_t pid)
{
	struct symbolizer *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->pid = pid;
	s->perf_which = -1;
	s->pagesize = sysconf(_SC_PAGESIZE);
	if (s->pagesize <= 0)
		s->pagesize = 4096;
	s->starttime = proc_starttime(pid);
	elf_version(EV_CURRENT);

	char root[64];
	snprintf(root, sizeof(root), "/proc/%d/root/", (int)pid);
	struct stat a, b;
	s->same_root = stat(root, &a) == 0 && stat("/", &b) == 0 &&
		       a.st_dev == b.st_dev && a.st_ino == b.st_ino;
	/* Build-id debug files: ours, and the container's when it has its own root. */
	char dpath[128];
	if (s->same_root)
		snprintf(dpath, sizeof(dpath), ":.debug:/usr/lib/debug");
	else
		snprintf(dpath, sizeof(dpath), ":.debug:/usr/lib/debug:/proc/%d/root/usr/lib/debug", (int)pid);
	s->debuginfo_path = strdup(dpath);
	s->cb = (Dwfl_Callbacks){
		.find_elf = dwfl_linux_proc_find_elf,
		.find_debuginfo = dwfl_standard_find_debuginfo,
		.section_address = dwfl_offline_section_address,
		.debuginfo_path = &s->debuginfo_path,
	};
	s->dwfl = s->debuginfo_path ? dwfl_begin(&s->cb) : NULL;
	if (!s->dwfl) {
		free(s->debuginfo_path);
		free(s);
		return NULL;
	}
	pid_t nspid = proc_nspid(pid);
	snprintf(s->perf_path[0], sizeof(s->perf_path[0]), "/tmp/perf-%d.map", (int)pid);
	if (!s->same_root || nspid != pid)
		snprintf(s->perf_path[1], sizeof(s->perf_path[1]), "/proc/%d/root/tmp/perf-%d.map",
			 (int)pid, (int)nspid);
	char pm[64];
	snprintf(pm, sizeof(pm), "[perf-%d.map]", (int)pid);
	s->perf_module = intern(s, pm);
	if (s->starttime == 0)
		s->gone = true;   /* nothing to read: every lookup gives addresses */
	else
		sym_refresh(s);
	return s;
}

/* ---- lookups ---- */

/* Returns the name of a DWARF function or inlined instance (demangled linkage
 * name, else its plain name, following abstract origins), or NULL. */
static const char *die_func_name(struct symbolizer *s, Dwarf_Die *die)
{
	Dwarf_Attribute a;
	const char *n = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_linkage_name, &a));
	if (!n)
		n = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &a));
	if (!n)
		n = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_name, &a));
	return func_name(s, n);
}

/* Fills fr for an address inside a libdwfl module, inlined entries first;
 * returns the number of entries (at least 1, at most MAX_INLINE). */
static int resolve_module(struct symbolizer *s, Dwfl_Module *mod, taddr_t addr, taddr_t la,
			  struct sym_frame fr[MAX_INLINE])
{
	GElf_Addr bias = 0;
	const char *mname = dwfl_module_info(mod, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
	dwfl_module_getelf(mod, &bias);
	struct sym_frame base = { .addr = addr, .module = intern(s, mname), .module_off = addr - bias };

	const struct fsym *fs = modsyms_find(mod, la);
	const char *phys = fs ? func_name(s, fs->name) : NULL;

	/* The line table gives the innermost position; each inlined scope's
	 * call site is the position in the scope around it. */
	const char *file = NULL;
	int line = 0;
	Dwfl_Line *dl = dwfl_module_getsrc(mod, la);
	if (dl) {
		file = intern(s, dwfl_lineinfo(dl, NULL, &line, NULL, NULL, NULL));
		if (!file)
			line = 0;
	}

	int n = 0;
	Dwarf_Addr dbias = 0;
	Dwarf_Die *cu = dwfl_module_addrdie(mod, la, &dbias);
	Dwarf_Die *scopes = NULL;
	int ns = cu ? dwarf_getscopes(cu, la - dbias, &scopes) : 0;
	bool inl = false;
	for (int i = 0; i < ns && !inl; i++)
		inl = dwarf_tag(&scopes[i]) == DW_TAG_inlined_subroutine;
	if (inl) {
		/* dwarf_getscopes continues into the abstract definition after
		 * the innermost inlined instance; the concrete chain up to the
		 * physical function comes from the DIE's own parents. */
		Dwarf_Die *chain = NULL;
		int nc = dwarf_getscopes_die(&scopes[0], &chain);
		free(scopes);
		scopes = chain;
		ns = nc;
	}
	Dwarf_Files *files = NULL;
	size_t nfiles = 0;
	if (inl && dwarf_getsrcfiles(cu, &files, &nfiles) != 0)
		files = NULL;
	for (int i = 0; i < ns; i++) {
		int tag = dwarf_tag(&scopes[i]);
		if (tag == DW_TAG_subprogram) {
			if (!phys)
				phys = die_func_name(s, &scopes[i]);
			break;
		}
		if (tag != DW_TAG_inlined_subroutine || n >= MAX_INLINE - 1)
			continue;
		fr[n] = base;
		fr[n].func = die_func_name(s, &scopes[i]);
		fr[n].file = file;
		fr[n].line = line;
		fr[n].inlined = true;
		n++;
		Dwarf_Attribute a;
		Dwarf_Word cf = 0, cl = 0;
		file = NULL;
		line = 0;
		if (dwarf_formudata(dwarf_attr(&scopes[i], DW_AT_call_file, &a), &cf) == 0 &&
		    files && cf < nfiles)
			file = intern(s, dwarf_filesrc(files, cf, NULL, NULL));
		if (dwarf_formudata(dwarf_attr(&scopes[i], DW_AT_call_line, &a), &cl) == 0)
			line = (int)cl;
	}
	free(scopes);

	fr[n] = base;
	fr[n].func = phys;
	/* off is from la; the frame reports addr */
	fr[n].func_off = fs ? addr - fs->addr : 0;
	fr[n].file = file;
	fr[n].line = file ? line : 0;
	n++;
	return n;
}

/* Whether la, within mod's span, is not mod's code: libdwfl spans a module
 * from its first mapping to its last, and the holes that 64 KiB-aligned
 * segments leave on a 4 KiB-page kernel (aarch64) get other mappings. At
 * the last refresh of the maps, la was in another mapping, or in a hole of
 * a module still mapped; an address of a module unloaded since (kept for
 * the stacks recorded before) stays the module's. */
static bool mapped_elsewhere(struct symbolizer *s, Dwfl_Module *mod, taddr_t la)
{
	const struct map *mp = maps_find(&s->maps, la);
	if (mp) {
		const char *name = dwfl_module_info(mod, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
		return is_anon(mp) || (name && mp->path[0] == '/' && strcmp(name, mp->path) != 0);
	}
	for (size_t i = 0; i < s->nkm; i++)
		if (s->km[i].mod == mod)
			return s->km[i].present;
	return false;
}

/* Fills fr for addr from libdwfl, the perf map or the maps; returns the
 * number of entries and sets *stable when the answer cannot improve. */
static int resolve(struct symbolizer *s, taddr_t addr, bool is_return,
		   struct sym_frame fr[MAX_INLINE], bool *stable)
{
	taddr_t la = is_return && addr ? addr - 1 : addr;
	*stable = false;
	Dwfl_Module *mod = dwfl_addrmodule(s->dwfl, la);
	if (mod && mapped_elsewhere(s, mod, la))
		mod = NULL;
	if (mod) {
		*stable = true;
		return resolve_module(s, mod, addr, la, fr);
	}
	fr[0] = (struct sym_frame){ .addr = addr };
	/* JIT code lives in anonymous memory (or a memfd), possibly unmapped
	 * since: whatever no ELF module covers may be in the perf map. */
	const struct perf_ent *e = perf_find(s, la);
	if (!e && perf_load(s))
		e = perf_find(s, la);
	if (e) {
		fr[0].func = e->name;
		fr[0].func_off = addr - e->start;
		fr[0].module = s->perf_module;
		fr[0].module_off = addr;
		return 1;
	}
	const struct map *mp = maps_find(&s->maps, la);
	if (mp && !is_anon(mp)) {
		/* A file or special mapping libdwfl could not read: module+offset
		 * is still something addr2line or a person can use. */
		fr[0].module = intern(s, mp->path);
		fr[0].module_off = addr - mp->start + mp->offset;
	}
	return 1;
}

int sym_lookup(struct symbolizer *s, taddr_t addr, bool is_return,
	       struct sym_frame *out, int max)
{
	if (max <= 0)
		return 0;
	if (!s) {
		out[0] = (struct sym_frame){ .addr = addr };
		return 1;
	}
	struct sym_frame tmp[MAX_INLINE];
	const struct sym_frame *fr = tmp;
	int n;
	struct centry *e = s->capcache ? cache_slot(s, addr, is_return) : NULL;
	if (e && e->used && (e->stable || e->gen == s->gen)) {
		fr = s->frames + e->first;
		n = e->n;
	} else {
		bool stable;
		n = resolve(s, addr, is_return, tmp, &stable);
		/* Not in any module: maybe a library loaded since the last
		 * refresh. Re-read the maps, but not on every such address. */
		if (!stable && !tmp[0].func && !s->gone &&
		    now_ns() - s->last_refresh_ns >= REFRESH_GAP_NS) {
			uint32_t gen = s->gen;
			if (sym_refresh(s) == 0 && s->gen != gen)
				n = resolve(s, addr, is_return, tmp, &stable);
		}
		cache_put(s, addr, is_return, tmp, n, stable || tmp[0].func);
	}
	/* With too little room, keep the outer entries: the physical function
	 * last, as the caller expects. */
	int skip = n > max ? n - max : 0;
	memcpy(out, fr + skip, (size_t)(n - skip) * sizeof(*out));
	return n - skip;
}

void sym_free(struct symbolizer *s)
{
	if (!s)
		return;
	dwfl_getmodules(s->dwfl, modsyms_free, NULL, 0);
	dwfl_end(s->dwfl);   /* closes every module's fd */
	maps_free(&s->maps);
	free(s->km);
	free(s->cache);
	free(s->frames);
	free(s->perf);
	free(s->strs);
	while (s->arena) {
		struct chunk *c = s->arena;
		s->arena = c->next;
		free(c);
	}
	if (s->stdcxx)
		dlclose(s->stdcxx);
	free(s->debuginfo_path);
	free(s);
}
