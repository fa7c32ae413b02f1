/* finder: walks the target's link map and reads symbol tables with libelf. */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "finder.h"

/* A symbol that only one family defines, most specific first: a static
 * executable holds a replacement allocator's symbols and the C library's. */
static const struct {
	const char *sym, *family;
} family_marks[] = {
	{ "mallctl", "jemalloc" }, { "je_mallctl", "jemalloc" },
	{ "tc_malloc", "tcmalloc" },
	{ "mi_malloc", "mimalloc" },
	{ "__libc_malloc_impl", "musl" }, { "__dls3", "musl" },
	{ "gnu_get_libc_version", "glibc" }, { "main_arena", "glibc" }, { "_int_malloc", "glibc" },
};
#define NMARKS (int)(sizeof(family_marks) / sizeof(family_marks[0]))

/* Reads the value of auxv entry type from /proc/PID/auxv, or 0. */
static uint64_t auxv_get(pid_t pid, uint64_t type)
{
	char path[64];
	uint64_t kv[2], val = 0;
	snprintf(path, sizeof(path), "/proc/%d/auxv", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	while (read(fd, kv, sizeof(kv)) == sizeof(kv) && kv[0] != AT_NULL)
		if (kv[0] == type) {
			val = kv[1];
			break;
		}
	close(fd);
	return val;
}

/* Symbols of one ELF object that leaktrap cares about. */
struct objsyms {
	taddr_t addr[HK_COUNT];    /* definitions of the hook names (bias added), 0: none */
	uint64_t size[HK_COUNT];
	int mark;                  /* index of the most specific family mark, NMARKS: none */
	bool cxx_runtime;          /* defines __cxa_throw: libstdc++ (or a program linked with it) */
	bool has_symtab;           /* has a .symtab (a static executable that has none is stripped) */
};

/* Reads the hook names (global definitions only, from .dynsym, and from
 * .symtab too when symtab) and the family marks (any binding, any table)
 * of one ELF file loaded with bias. Returns false when it cannot be read. */
static bool read_object(const char *file, taddr_t bias, bool symtab, struct objsyms *o)
{
	memset(o, 0, sizeof(*o));
	o->mark = NMARKS;
	elf_version(EV_CURRENT);
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	Elf_Scn *scn = NULL;
	while (elf && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh) || (sh.sh_type != SHT_SYMTAB && sh.sh_type != SHT_DYNSYM))
			continue;
		o->has_symtab |= sh.sh_type == SHT_SYMTAB;
		/* .dynsym of a dynamic object is what the dynamic linker binds to */
		bool for_hooks = sh.sh_type == SHT_DYNSYM || symtab;
		Elf_Data *data = elf_getdata(scn, NULL);
		size_t n = sh.sh_entsize ? sh.sh_size / sh.sh_entsize : 0;
		for (size_t i = 0; data && i < n; i++) {
			GElf_Sym sym;
			if (!gelf_getsym(data, (int)i, &sym) || sym.st_shndx == SHN_UNDEF)
				continue;
			const char *name = elf_strptr(elf, sh.sh_link, sym.st_name);
			if (!name || !name[0])
				continue;
			if (!strcmp(name, "__cxa_throw"))
				o->cxx_runtime = true;
			for (int m = 0; m < o->mark; m++)
				if (!strcmp(name, family_marks[m].sym)) {
					o->mark = m;
					break;
				}
			if (!for_hooks || GELF_ST_TYPE(sym.st_info) != STT_FUNC ||
			    GELF_ST_BIND(sym.st_info) == STB_LOCAL || sym.st_value == 0)
				continue;
			for (int k = 0; k < HK_COUNT; k++)
				if (!o->addr[k] && !strcmp(name, hook_defs[k].sym)) {
					o->addr[k] = bias + sym.st_value;
					o->size[k] = sym.st_size;
				}
		}
	}
	bool ok = elf != NULL;
	if (elf)
		elf_end(elf);
	close(fd);
	return ok;
}

/* The family an object's marks and file name say; never NULL. */
static const char *family_of(const struct objsyms *o, const char *path)
{
	static const char *by_name[][2] = {
		{ "jemalloc", "jemalloc" }, { "tcmalloc", "tcmalloc" }, { "mimalloc", "mimalloc" },
		{ "musl", "musl" }, { "libc.so.6", "glibc" },
	};
	if (o->mark < NMARKS)
		return family_marks[o->mark].family;
	const char *b = strrchr(path, '/');
	b = b ? b + 1 : path;
	for (size_t i = 0; i < sizeof(by_name) / sizeof(by_name[0]); i++)
		if (strstr(b, by_name[i][0]))
			return by_name[i][1];
	return "unknown";
}

/* What finder_find learned, by path: a report made after the target is gone
 * (no /proc/PID/root) still names the family found at attach. */
static struct {
	char path[PATH_MAX];
	const char *family;
} memo[8];
static unsigned memo_next;

/* Remembers the family of path. */
static void memo_put(const char *path, const char *family)
{
	for (unsigned i = 0; i < 8; i++)
		if (memo[i].family && !strcmp(memo[i].path, path)) {
			memo[i].family = family;
			return;
		}
	unsigned i = memo_next++ % 8;
	snprintf(memo[i].path, sizeof(memo[i].path), "%s", path);
	memo[i].family = family;
}

/* Reads the object at path as pid sees it (its root first, then ours). */
static bool read_target_object(pid_t pid, const char *path, taddr_t bias, bool symtab,
			       struct objsyms *o)
{
	char file[PATH_MAX + 64];
	snprintf(file, sizeof(file), "/proc/%d/root%s", pid, path);
	return (path[0] == '/' && read_object(file, bias, symtab, o)) ||
	       read_object(path, bias, symtab, o);
}

const char *finder_family(pid_t pid, const char *path)
{
	struct objsyms o;
	if (!path || !path[0])
		return "unknown";
	for (unsigned i = 0; i < 8; i++)
		if (memo[i].family && !strcmp(memo[i].path, path))
			return memo[i].family;
	if (!read_target_object(pid, path, 0, true, &o))
		return "unknown";
	return family_of(&o, path);
}

/* Reads a NUL-terminated string of the target into buf; returns 0 or -errno. */
static int read_string(struct target *t, taddr_t addr, char *buf, size_t len)
{
	for (size_t i = 0; i + 1 < len; i += 64) {
		size_t n = len - 1 - i < 64 ? len - 1 - i : 64;
		/* Read in small steps: a long read may run off the end of a mapping. */
		if (target_read(t, addr + i, buf + i, n) < 0 && target_read(t, addr + i, buf + i, 1) < 0)
			return -EFAULT;
		if (memchr(buf + i, 0, n))
			return 0;
	}
	buf[len - 1] = 0;
	return 0;
}

/* Finds the executable's dynamic section and returns r_debug.r_map, the
 * head of the link map; 0 for a static executable (or before ld.so ran). */
static taddr_t link_map_head(struct target *t, taddr_t *exe_bias)
{
	taddr_t phdr = auxv_get(t->pid, AT_PHDR);
	uint64_t phnum = auxv_get(t->pid, AT_PHNUM);
	taddr_t dyn = 0, bias = 0;
	bool have_bias = false;
	for (uint64_t i = 0; phdr && i < phnum && i < 256; i++) {
		Elf64_Phdr ph;
		if (target_read(t, phdr + i * sizeof(ph), &ph, sizeof(ph)) < 0)
			return 0;
		if (ph.p_type == PT_PHDR) {
			bias = phdr - ph.p_vaddr;
			have_bias = true;
		} else if (ph.p_type == PT_DYNAMIC) {
			dyn = ph.p_vaddr;
		}
	}
	*exe_bias = have_bias ? bias : 0;
	if (!dyn)
		return 0;
	Elf64_Dyn d;
	for (taddr_t a = bias + dyn; target_read(t, a, &d, sizeof(d)) == 0 && d.d_tag != DT_NULL;
	     a += sizeof(d)) {
		if (d.d_tag != DT_DEBUG)
			continue;
		uint64_t r_map = 0;
		if (!d.d_un.d_ptr ||
		    target_read(t, d.d_un.d_ptr + offsetof(struct r_debug, r_map), &r_map, 8) < 0)
			return 0;
		return r_map;
	}
	return 0;
}

/* FNV-1a of a string. */
static uint64_t hash_str(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	while (*s)
		h = (h ^ (uint8_t)*s++) * 0x100000001b3ULL;
	return h;
}

/* One object of the link map as leaktrap reads it. */
struct lm_entry {
	taddr_t lm, base, next;
	char path[PATH_MAX];   /* "" for the executable */
};

/* Reads the link-map entry at lm; the first one (the executable) gets an
 * empty path: musl names it after argv[0], glibc leaves it empty. Returns
 * 0 or -1. */
static int read_lm(struct target *t, taddr_t lm, bool first, struct lm_entry *e)
{
	struct link_map l;
	if (target_read(t, lm, &l, sizeof(l)) < 0)
		return -1;
	e->lm = lm;
	e->base = l.l_addr;
	e->next = (taddr_t)(uintptr_t)l.l_next;
	e->path[0] = 0;
	if (!first && l.l_name)
		read_string(t, (taddr_t)(uintptr_t)l.l_name, e->path, sizeof(e->path));
	return 0;
}

/* Whether path is named in the target's LD_PRELOAD (or /etc/ld.so.preload). */
static bool preloaded(pid_t pid, const char *path)
{
	char file[96], buf[65536];
	const char *b = strrchr(path, '/');
	b = b ? b + 1 : path;
	snprintf(file, sizeof(file), "/proc/%d/environ", pid);
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	if (fd >= 0)
		close(fd);
	for (ssize_t i = 0; i < n; i += (ssize_t)strlen(buf + i) + 1) {
		buf[n] = 0;
		if (!strncmp(buf + i, "LD_PRELOAD=", 11) && strstr(buf + i + 11, b))
			return true;
	}
	snprintf(file, sizeof(file), "/proc/%d/root/etc/ld.so.preload", pid);
	fd = open(file, O_RDONLY | O_CLOEXEC);
	n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	if (fd >= 0)
		close(fd);
	if (n > 0) {
		buf[n] = 0;
		return strstr(buf, b) != NULL;
	}
	return false;
}

/* Takes from o the definitions not found yet. The C++ runtime's operators
 * (libstdc++, or a static program that holds it without a replacement
 * allocator) are settled but left unhooked: they call malloc and free, and
 * hooking both would count each block twice against the sampling countdown. */
static void take_defs(struct finder_result *out, const struct objsyms *o, taddr_t lm,
		      const char *shown, const char *family)
{
	bool cxx_runtime = o->cxx_runtime && strcmp(family, "jemalloc") &&
			   strcmp(family, "tcmalloc") && strcmp(family, "mimalloc");
	for (int k = 0; k < HK_COUNT; k++) {
		struct found_fn *f = &out->fn[k];
		if (f->addr || f->via_malloc || !o->addr[k])
			continue;
		snprintf(f->module, sizeof(f->module), "%s", shown);
		if (hook_defs[k].cxx && cxx_runtime) {
			f->via_malloc = true;	/* the definition calls reach: not ours to hook */
			continue;
		}
		f->addr = o->addr[k];
		f->size = o->size[k];
		f->lm = lm;
	}
}

/* Returns whether every hook kind has been settled. */
static bool all_found(const struct finder_result *out)
{
	for (int k = 0; k < HK_COUNT; k++)
		if (!out->fn[k].addr && !out->fn[k].via_malloc)
			return false;
	return true;
}

int finder_find(struct target *t, struct finder_result *out, char *err, size_t errlen)
{
	char exe[64], name[PATH_MAX];
	struct objsyms o;
	static struct lm_entry e;
	memset(out, 0, sizeof(*out));
	snprintf(exe, sizeof(exe), "/proc/%d/exe", t->pid);
	ssize_t n = readlink(exe, name, sizeof(name) - 1);
	name[n > 0 ? n : 0] = 0;

	taddr_t bias = 0, lm = link_map_head(t, &bias);
	bool stripped = false;
	if (!lm) {
		/* Static: the executable is the only object. */
		out->is_static = true;
		if (read_object(exe, bias, true, &o))
			take_defs(out, &o, 0, name, family_of(&o, name));
		stripped = !o.has_symtab;
	}
	for (int guard = 0; lm && guard < 4096; guard++) {
		if (read_lm(t, lm, guard == 0, &e) < 0)
			break;
		if (out->nobjs < FINDER_MAX_OBJS)
			out->objs[out->nobjs++] = (struct finder_obj){ e.lm, e.base, hash_str(e.path) };
		lm = e.next;
		if (all_found(out))
			continue;	/* the rest of the map is still remembered */
		bool ok;
		if (guard == 0)
			ok = read_object(exe, e.base, false, &o);
		else
			ok = e.path[0] == '/' && read_target_object(t->pid, e.path, e.base, false, &o);
		if (ok)
			take_defs(out, &o, e.lm, guard == 0 ? name : e.path,
				  family_of(&o, guard == 0 ? name : e.path));
	}
	if (!out->fn[HK_MALLOC].addr || !out->fn[HK_FREE].addr) {
		snprintf(err, errlen, "no malloc/free definition found in PID %d%s", t->pid,
			 !out->is_static ? "" : stripped ? " (a stripped static executable: leaktrap "
							   "needs its .symtab)" :
			 " (a static executable that defines no malloc and free: it has no heap leaktrap knows)");
		return -1;
	}

	/* The family: read the whole object again, local symbols included
	 * (a static executable's allocator is known by its internals). */
	const char *mod = out->fn[HK_MALLOC].module;
	const char *fam = "unknown";
	bool is_exe = !strcmp(mod, name);
	if (is_exe ? read_object(exe, 0, true, &o) : read_target_object(t->pid, mod, 0, true, &o))
		fam = family_of(&o, mod);
	snprintf(out->family, sizeof(out->family), "%s", fam);
	memo_put(mod, fam);
	snprintf(out->origin, sizeof(out->origin), "%s",
		 out->is_static ? "static executable" : is_exe ? "executable" :
		 preloaded(t->pid, mod) ? "LD_PRELOAD" : "shared library");
	return 0;
}

/* Whether the object at lm (base, path) was in the link map at attach. */
static bool known_obj(const struct finder_result *f, const struct lm_entry *e)
{
	uint64_t h = hash_str(e->path);
	for (size_t i = 0; i < f->nobjs; i++)
		if (f->objs[i].lm == e->lm && f->objs[i].base == e->base && f->objs[i].name_hash == h)
			return true;
	return false;
}

int finder_changes(struct target *t, const struct finder_result *f,
		   struct finder_change *out, int max)
{
	static struct lm_entry e;
	static taddr_t now_lm[FINDER_MAX_OBJS];
	size_t nnow = 0;
	int n = 0;
	taddr_t bias;
	if (f->is_static)
		return 0;
	taddr_t lm = link_map_head(t, &bias);
	if (!lm)
		return -1;
	for (int guard = 0; lm && guard < 4096; guard++) {
		if (read_lm(t, lm, guard == 0, &e) < 0)
			break;
		lm = e.next;
		bool known = known_obj(f, &e);
		if (known && nnow < FINDER_MAX_OBJS)
			now_lm[nnow++] = e.lm;
		if (known || guard == 0 || e.path[0] != '/' || n >= max)
			continue;
		struct objsyms o;
		if (!read_target_object(t->pid, e.path, e.base, false, &o) ||
		    (!o.addr[HK_MALLOC] && !o.addr[HK_FREE]))
			continue;
		struct finder_change *c = &out[n++];
		c->loaded = true;
		snprintf(c->module, sizeof(c->module), "%s", e.path);
		snprintf(c->family, sizeof(c->family), "%s", family_of(&o, e.path));
		c->funcs[0] = 0;
		for (int k = 0; k < HK_COUNT; k++)
			if (o.addr[k] && !hook_defs[k].cxx)
				snprintf(c->funcs + strlen(c->funcs), sizeof(c->funcs) - strlen(c->funcs),
					 "%s%s", c->funcs[0] ? ", " : "", hook_defs[k].name);
	}
	/* hooked objects no longer in the map */
	for (int k = 0; k < HK_COUNT && n < max; k++) {
		const struct found_fn *fn = &f->fn[k];
		bool present = !fn->lm;
		for (size_t i = 0; i < nnow && !present; i++)
			present = now_lm[i] == fn->lm;
		if (present || !fn->addr)
			continue;
		struct finder_change *c = NULL;
		for (int i = 0; i < n && !c; i++)
			if (!out[i].loaded && !strcmp(out[i].module, fn->module))
				c = &out[i];
		if (!c) {
			c = &out[n++];
			*c = (struct finder_change){ .loaded = false };
			snprintf(c->module, sizeof(c->module), "%s", fn->module);
		}
		snprintf(c->funcs + strlen(c->funcs), sizeof(c->funcs) - strlen(c->funcs), "%s%s",
			 c->funcs[0] ? ", " : "", hook_defs[k].name);
	}
	return n;
}
