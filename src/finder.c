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

/* Looks up the hook names in the symbol tables of one ELF file (loaded with
 * bias) and fills in those not found yet. Returns how many it filled. */
static int scan_object(const char *file, const char *shown, taddr_t bias, bool symtab,
		       struct finder_result *out)
{
	int fd = open(file, O_RDONLY | O_CLOEXEC), filled = 0;
	if (fd < 0)
		return 0;
	Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	Elf_Scn *scn = NULL;
	while (elf && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != (symtab ? SHT_SYMTAB : SHT_DYNSYM))
			continue;
		Elf_Data *data = elf_getdata(scn, NULL);
		size_t n = sh.sh_entsize ? sh.sh_size / sh.sh_entsize : 0;
		for (size_t i = 0; data && i < n; i++) {
			GElf_Sym sym;
			if (!gelf_getsym(data, (int)i, &sym) || sym.st_shndx == SHN_UNDEF ||
			    GELF_ST_TYPE(sym.st_info) != STT_FUNC ||
			    GELF_ST_BIND(sym.st_info) == STB_LOCAL || sym.st_value == 0)
				continue;
			const char *name = elf_strptr(elf, sh.sh_link, sym.st_name);
			for (int k = 0; name && k < HK_COUNT; k++) {
				if (out->fn[k].addr || strcmp(name, hook_defs[k].name))
					continue;
				out->fn[k].addr = bias + sym.st_value;
				out->fn[k].size = sym.st_size;
				snprintf(out->fn[k].module, sizeof(out->fn[k].module), "%s", shown);
				filled++;
			}
		}
	}
	if (elf)
		elf_end(elf);
	close(fd);
	return filled;
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

/* Returns whether every hook kind has been found. */
static bool all_found(const struct finder_result *out)
{
	for (int k = 0; k < HK_COUNT; k++)
		if (!out->fn[k].addr)
			return false;
	return true;
}

int finder_find(struct target *t, struct finder_result *out, char *err, size_t errlen)
{
	char exe[PATH_MAX], file[PATH_MAX + 64], name[PATH_MAX];
	memset(out, 0, sizeof(*out));
	elf_version(EV_CURRENT);
	snprintf(exe, sizeof(exe), "/proc/%d/exe", t->pid);
	ssize_t n = readlink(exe, name, sizeof(name) - 1);
	name[n > 0 ? n : 0] = 0;

	taddr_t bias = 0, lm = link_map_head(t, &bias);
	if (!lm) {
		/* Static: the executable is the only object. */
		out->is_static = true;
		scan_object(exe, name, bias, true, out);
		scan_object(exe, name, bias, false, out);
	}
	for (int guard = 0; lm && guard < 4096 && !all_found(out); guard++) {
		struct link_map l;
		if (target_read(t, lm, &l, sizeof(l)) < 0)
			break;
		char path[PATH_MAX] = "";
		if (l.l_name)
			read_string(t, (taddr_t)(uintptr_t)l.l_name, path, sizeof(path));
		if (guard == 0 && !path[0]) {
			scan_object(exe, name, l.l_addr, false, out);
		} else if (path[0] == '/') {
			snprintf(file, sizeof(file), "/proc/%d/root%s", t->pid, path);
			if (!scan_object(file, path, l.l_addr, false, out))
				scan_object(path, path, l.l_addr, false, out);
		}
		lm = (taddr_t)(uintptr_t)l.l_next;
	}
	if (!out->fn[HK_MALLOC].addr || !out->fn[HK_FREE].addr) {
		snprintf(err, errlen, "no malloc/free definition found in PID %d%s", t->pid,
			 out->is_static ? " (a static executable without a symbol table: "
					  "leaktrap needs its .symtab)" : "");
		return -1;
	}
	return 0;
}
