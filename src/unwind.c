/*
 * unwind: libunwind with our own accessors.
 *
 * libunwind-ptrace's accessors read one word per PTRACE_PEEKDATA and re-open
 * ELF files whenever the unwind moves between objects. Ours read the stack
 * with one process_vm_readv per event, keep read-only pages (code, eh_frame)
 * in a cache, and look FDEs up through each object's .eh_frame_hdr table,
 * read from the target's memory and handed to libunwind's own binary search.
 * Registers come from the caller frame the tracer built: the stub has no CFI.
 */
#include <errno.h>
#include <elf.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <libunwind.h>

#include "maps.h"
#include "unwind.h"

/* libunwind's search of an .eh_frame_hdr table; exported, but not in a header. */
extern int UNW_OBJ(dwarf_search_unwind_table)(unw_addr_space_t as, unw_word_t ip,
					       unw_dyn_info_t *di, unw_proc_info_t *pi,
					       int need_unwind_info, void *arg);

#define PAGE 4096
#define NPAGES 1024          /* 4 MiB of cached read-only pages */
#define STACK_COPY 8192      /* bytes of stack read per event (deeper reads go direct) */
#define MAX_MODULES 512

struct page {
	taddr_t addr;        /* 0: empty */
	uint8_t data[PAGE];
};

struct module {
	taddr_t lo, hi;      /* executable range */
	bool tried;          /* eh_frame_hdr looked for */
	bool ok;
	unw_dyn_info_t di;
};

struct unwinder {
	struct target *t;
	unw_addr_space_t as;
	struct maps maps;
	bool maps_ok;
	struct module mod[MAX_MODULES];
	int nmod;
	struct page *pages;
	/* per event */
	const struct arch_regs *regs;
	taddr_t stack_lo, stack_hi;
	uint8_t stack[STACK_COPY];
};

/* Re-reads the maps and rebuilds the module list (executable file mappings). */
static void load_maps(struct unwinder *u)
{
	if (u->maps_ok)
		maps_free(&u->maps);
	u->maps_ok = maps_read(u->t->pid, &u->maps) == 0;
	u->nmod = 0;
	for (size_t i = 0; u->maps_ok && i < u->maps.n && u->nmod < MAX_MODULES; i++) {
		const struct map *m = &u->maps.v[i];
		if (m->perms[2] != 'x' || m->path[0] != '/')
			continue;
		struct module *md = &u->mod[u->nmod++];
		memset(md, 0, sizeof(*md));
		md->lo = m->start;
		md->hi = m->end;
	}
}

/* Returns the mapping containing addr, re-reading the maps once if needed. */
static const struct map *find_map(struct unwinder *u, taddr_t addr)
{
	const struct map *m = u->maps_ok ? maps_find(&u->maps, addr) : NULL;
	if (!m) {
		load_maps(u);
		m = u->maps_ok ? maps_find(&u->maps, addr) : NULL;
	}
	return m;
}

/* Reads one word of the target: from the event's stack copy, the page
 * cache (read-only mappings), or directly. Returns 0 or -1. */
static int read_word(struct unwinder *u, taddr_t addr, uint64_t *val)
{
	if (addr >= u->stack_lo && addr + 8 <= u->stack_hi) {
		memcpy(val, u->stack + (addr - u->stack_lo), 8);
		return 0;
	}
	taddr_t pa = addr & ~(taddr_t)(PAGE - 1);
	if (addr + 8 <= pa + PAGE && u->pages) {
		struct page *p = &u->pages[(pa / PAGE) % NPAGES];
		if (p->addr != pa) {
			const struct map *m = find_map(u, addr);
			if (!m || m->perms[1] == 'w')
				goto direct;
			if (target_read(u->t, pa, p->data, PAGE) < 0) {
				p->addr = 0;
				goto direct;
			}
			p->addr = pa;
		}
		memcpy(val, p->data + (addr - pa), 8);
		return 0;
	}
direct:
	return target_read(u->t, addr, val, 8) < 0 ? -1 : 0;
}

/* Finds the .eh_frame_hdr of the object mapped around md and prepares a
 * remote-table description of it for libunwind. */
static void load_eh_frame_hdr(struct unwinder *u, struct module *md)
{
	md->tried = true;
	const struct map *text = maps_find(&u->maps, md->lo);
	if (!text)
		return;
	/* The ELF header is at the object's mapping with file offset 0. */
	taddr_t base = 0;
	for (size_t i = 0; i < u->maps.n; i++) {
		const struct map *m = &u->maps.v[i];
		if (m->offset == 0 && m->inode == text->inode && !strcmp(m->path, text->path)) {
			base = m->start;
			break;
		}
	}
	Elf64_Ehdr eh;
	if (!base || target_read(u->t, base, &eh, sizeof(eh)) < 0 || memcmp(eh.e_ident, ELFMAG, SELFMAG))
		return;
	taddr_t bias = 0, hdr = 0;
	bool have_bias = false;
	for (int i = 0; i < eh.e_phnum && i < 128; i++) {
		Elf64_Phdr ph;
		if (target_read(u->t, base + eh.e_phoff + i * sizeof(ph), &ph, sizeof(ph)) < 0)
			return;
		if (ph.p_type == PT_LOAD && ph.p_offset == 0 && !have_bias) {
			bias = base - (ph.p_vaddr & ~(taddr_t)(PAGE - 1));
			have_bias = true;
		}
		if (ph.p_type == PT_GNU_EH_FRAME)
			hdr = ph.p_vaddr;
	}
	if (!have_bias || !hdr)
		return;
	hdr += bias;
	/* version 1, eh_frame_ptr pcrel|sdata4, fde_count udata4, table datarel|sdata4:
	 * what every toolchain emits; anything else is left to the fallback. */
	uint8_t h[12];
	if (target_read(u->t, hdr, h, sizeof(h)) < 0 || h[0] != 1 || h[2] != 0x03 || h[3] != 0x3b)
		return;
	uint32_t fde_count;
	memcpy(&fde_count, h + 8, 4);
	memset(&md->di, 0, sizeof(md->di));
	md->di.format = UNW_INFO_FORMAT_REMOTE_TABLE;
	md->di.start_ip = md->lo;
	md->di.end_ip = md->hi;
	md->di.u.rti.segbase = hdr;
	md->di.u.rti.table_data = hdr + 12;
	md->di.u.rti.table_len = fde_count * 8 / sizeof(unw_word_t);
	md->ok = true;
}

/* libunwind accessor: unwind info for ip from its object's .eh_frame_hdr. */
static int acc_find_proc_info(unw_addr_space_t as, unw_word_t ip, unw_proc_info_t *pi,
			      int need_unwind_info, void *arg)
{
	struct unwinder *u = arg;
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < u->nmod; i++) {
			struct module *md = &u->mod[i];
			if (ip < md->lo || ip >= md->hi)
				continue;
			if (!md->tried)
				load_eh_frame_hdr(u, md);
			if (!md->ok)
				return -UNW_ENOINFO;
			return UNW_OBJ(dwarf_search_unwind_table)(as, ip, &md->di, pi, need_unwind_info, arg);
		}
		if (pass == 0)
			load_maps(u);	/* a module loaded since: dlopen */
	}
	return -UNW_ENOINFO;
}

/* libunwind accessor: nothing to free, libunwind frees table-format info itself. */
static void acc_put_unwind_info(unw_addr_space_t as, unw_proc_info_t *pi, void *arg) {}

/* libunwind accessor: no dynamic (JIT-registered) unwind info. */
static int acc_get_dyn_info_list_addr(unw_addr_space_t as, unw_word_t *addr, void *arg)
{
	return -UNW_ENOINFO;
}

/* libunwind accessor: reads target memory; writes are refused. */
static int acc_access_mem(unw_addr_space_t as, unw_word_t addr, unw_word_t *val, int write, void *arg)
{
	struct unwinder *u = arg;
	if (write)
		return -UNW_EINVAL;
	uint64_t v;
	if (read_word(u, addr, &v) < 0)
		return -UNW_EINVAL;
	*val = v;
	return 0;
}

/* libunwind accessor: the caller frame's registers; writes are refused. */
static int acc_access_reg(unw_addr_space_t as, unw_regnum_t reg, unw_word_t *val, int write, void *arg)
{
	struct unwinder *u = arg;
	uint64_t v;
	if (write || arch_unw_reg(u->regs, reg, &v) < 0)
		return -UNW_EBADREG;
	*val = v;
	return 0;
}

/* libunwind accessor: floating-point registers are never needed. */
static int acc_access_fpreg(unw_addr_space_t as, unw_regnum_t reg, unw_fpreg_t *val, int write, void *arg)
{
	return -UNW_EBADREG;
}

/* libunwind accessor: leaktrap never resumes through libunwind. */
static int acc_resume(unw_addr_space_t as, unw_cursor_t *c, void *arg)
{
	return -UNW_EINVAL;
}

/* libunwind accessor: names come from the symbolizer, later. */
static int acc_get_proc_name(unw_addr_space_t as, unw_word_t addr, char *buf, size_t len,
			     unw_word_t *off, void *arg)
{
	return -UNW_ENOINFO;
}

static unw_accessors_t accessors = {
	.find_proc_info = acc_find_proc_info,
	.put_unwind_info = acc_put_unwind_info,
	.get_dyn_info_list_addr = acc_get_dyn_info_list_addr,
	.access_mem = acc_access_mem,
	.access_reg = acc_access_reg,
	.access_fpreg = acc_access_fpreg,
	.resume = acc_resume,
	.get_proc_name = acc_get_proc_name,
};

struct unwinder *unwind_new(struct target *t)
{
	struct unwinder *u = calloc(1, sizeof(*u));
	if (!u)
		return NULL;
	u->t = t;
	u->pages = calloc(NPAGES, sizeof(struct page));
	u->as = unw_create_addr_space(&accessors, 0);
	if (!u->as || !u->pages) {
		unwind_free(u);
		return NULL;
	}
	unw_set_caching_policy(u->as, UNW_CACHE_GLOBAL);
	load_maps(u);
	return u;
}

/* Copies the stack from sp up (at most STACK_COPY bytes, within its mapping). */
static void copy_stack(struct unwinder *u, taddr_t sp)
{
	const struct map *m = find_map(u, sp);
	taddr_t end = sp + STACK_COPY;
	if (m && end > m->end)
		end = m->end;
	u->stack_lo = u->stack_hi = sp;
	if (!m || end <= sp)
		return;
	/* Page-sized pieces: a partial copy still yields whatever was readable. */
	struct iovec local[STACK_COPY / PAGE + 1], remote[STACK_COPY / PAGE + 1];
	int n = 0;
	for (taddr_t a = sp; a < end; n++) {
		taddr_t next = (a & ~(taddr_t)(PAGE - 1)) + PAGE;
		if (next > end)
			next = end;
		local[n] = (struct iovec){ u->stack + (a - sp), next - a };
		remote[n] = (struct iovec){ (void *)(uintptr_t)a, next - a };
		a = next;
	}
	ssize_t got = process_vm_readv(u->t->pid, local, n, remote, n, 0);
	if (got > 0)
		u->stack_hi = sp + (taddr_t)got;
}

int unwind_stack(struct unwinder *u, const struct arch_regs *caller, taddr_t *frames, int max)
{
	unw_cursor_t c;
	int n = 0;
	u->regs = caller;
	copy_stack(u, arch_sp(caller));
	frames[n++] = arch_pc(caller);
	if (unw_init_remote(&c, u->as, u) < 0)
		return n;
	while (n < max && unw_step(&c) > 0) {
		unw_word_t ip;
		if (unw_get_reg(&c, UNW_REG_IP, &ip) < 0 || ip == 0)
			break;
		frames[n++] = ip;
	}
	u->stack_lo = u->stack_hi = 0;
	return n;
}

void unwind_flush(struct unwinder *u)
{
	unw_flush_cache(u->as, 0, 0);
	for (int i = 0; i < NPAGES; i++)
		u->pages[i].addr = 0;
	load_maps(u);
}

void unwind_free(struct unwinder *u)
{
	if (!u)
		return;
	if (u->as)
		unw_destroy_addr_space(u->as);
	if (u->maps_ok)
		maps_free(&u->maps);
	free(u->pages);
	free(u);
}
