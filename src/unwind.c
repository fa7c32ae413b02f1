/*
 * unwind: libunwind with our own accessors.
 *
 * libunwind-ptrace's accessors read one word per PTRACE_PEEKDATA and re-open
 * ELF files whenever the unwind moves between objects. Ours read the stack
 * with one process_vm_readv per event, keep read-only pages (code, eh_frame)
 * in a cache, and look FDEs up through each object's .eh_frame_hdr table,
 * read from the target's memory and handed to libunwind's own binary search.
 * Registers come from the caller frame the tracer built: the stub has no CFI.
 * libunwind 1.6 stops at DW_CFA_AARCH64_negate_ra_state (0x2d, which it
 * knows only as SPARC's window save), emitted for every function built with
 * pointer authentication: it is handed a DW_CFA_nop instead, and return
 * addresses are stripped of their authentication code (arch_strip_pc).
 */
#include <errno.h>
#include <elf.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include <sys/uio.h>
#include <libunwind.h>

#include "ehframe.h"
#include "maps.h"
#include "unwind.h"

/* libunwind's search of an .eh_frame_hdr table; exported, but not in a header. */
extern int UNW_OBJ(dwarf_search_unwind_table)(unw_addr_space_t as, unw_word_t ip,
					       unw_dyn_info_t *di, unw_proc_info_t *pi,
					       int need_unwind_info, void *arg);

#define PAGE 4096
#define NPAGES 1024          /* 4 MiB of cached read-only pages */
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
	int32_t *table;      /* built from .eh_frame when there is no .eh_frame_hdr */
	size_t table_bytes;
	taddr_t table_addr;  /* where libunwind is told it is (see SYNTH_BASE) */
	taddr_t *nops;       /* .eh_frame bytes that read as DW_CFA_nop (see cfi_nops) */
	size_t nnops;
};

/* A table we build is read by libunwind through access_mem like the target's
 * own tables; it is given addresses no user-space mapping can have. */
#define SYNTH_BASE 0xffff900000000000ULL
#define SYNTH_STEP (1ULL << 32)

/* The CFA rule of the frames that return to one pc, learnt from the unwind
 * tables once and kept (see fast_unwind). */
struct rule_slot {
	taddr_t pc;          /* the return address; 0: empty */
	bool ok;             /* false: frames returning here are libunwind's */
	struct eh_rule r;
};
#define NRULES 4096
#define FDE_MAX 1024         /* longer CIEs and FDEs are left to libunwind */

struct unwinder {
	struct target *t;
	unw_addr_space_t as;
	struct rule_slot *rules;
	bool check;          /* LEAKTRAP_UNWIND_CHECK: libunwind redoes every fast unwind */
	struct unwind_counts counts;
	struct maps maps;
	bool maps_ok;
	struct module mod[MAX_MODULES];
	int nmod;
	struct page *pages;
	/* per event */
	const struct arch_regs *regs;
	bool regs_whole;              /* regs are a stopped thread's own, all exact */
	struct arch_regs frame_regs;  /* an unwind restarted at a stripped pc */
	taddr_t stack_lo, stack_hi;
	taddr_t rest_hi, rest_at;  /* the copy goes on to rest_hi, still at rest_at in the target */
	bool stack_given;     /* unwind_set_stack supplied the copy for the next unwind */
	uint8_t stack[UNWIND_STACK_COPY];
};

/* Re-reads the maps and rebuilds the module list (executable file mappings). */
static void load_maps(struct unwinder *u)
{
	if (u->maps_ok)
		maps_free(&u->maps);
	u->maps_ok = maps_read(u->t->pid, &u->maps) == 0;
	for (int i = 0; i < u->nmod; i++) {
		free(u->mod[i].table);
		free(u->mod[i].nops);
	}
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

/* Turns the negate_ra_state opcodes of the modules' .eh_frame that fall in
 * buf (len bytes read from the target at addr) into DW_CFA_nop. */
static void cfi_patch(struct unwinder *u, taddr_t addr, uint8_t *buf, size_t len)
{
	for (int i = 0; i < u->nmod; i++) {
		const struct module *md = &u->mod[i];
		if (!md->nnops || md->nops[md->nnops - 1] < addr || md->nops[0] >= addr + len)
			continue;
		size_t lo = 0, hi = md->nnops;	/* first nop at or after addr */
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;
			if (md->nops[mid] < addr)
				lo = mid + 1;
			else
				hi = mid;
		}
		for (size_t k = lo; k < md->nnops && md->nops[k] < addr + len; k++)
			buf[md->nops[k] - addr] = 0;	/* DW_CFA_nop */
	}
}

/* Reads one word of the target: from the event's stack copy, the page
 * cache (read-only mappings), or directly. Returns 0 or -1. */
static int read_word(struct unwinder *u, taddr_t addr, uint64_t *val)
{
	if (addr >= SYNTH_BASE) {
		int i = (int)((addr - SYNTH_BASE) / SYNTH_STEP);
		const struct module *md = i < u->nmod ? &u->mod[i] : NULL;
		if (!md || !md->table || addr + 8 > md->table_addr + md->table_bytes)
			return -1;
		memcpy(val, (const uint8_t *)md->table + (addr - md->table_addr), 8);
		return 0;
	}
	if (addr >= u->stack_hi && addr + 8 <= u->rest_hi) {
		/* the unwind got past the part of the copy in hand: fetch the rest */
		size_t have = u->stack_hi - u->stack_lo;
		if (target_read(u->t, u->rest_at + have, u->stack + have, u->rest_hi - u->stack_hi) == 0)
			u->stack_hi = u->rest_hi;
		u->rest_hi = 0;
	}
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
			cfi_patch(u, pa, p->data, PAGE);
		}
		memcpy(val, p->data + (addr - pa), 8);
		return 0;
	}
direct:
	if (target_read(u->t, addr, val, 8) < 0)
		return -1;
	cfi_patch(u, addr, (uint8_t *)val, 8);
	return 0;
}

/* Adds the address of every DW_CFA_GNU_window_save (= AARCH64
 * negate_ra_state) opcode of the CFA program [p, end) to md->nops; the
 * program is at target address at. */
static void cfa_scan(struct module *md, const uint8_t *p, const uint8_t *end, taddr_t at, uint8_t enc)
{
	const uint8_t *start = p;
	while (p < end) {
		uint8_t op = *p;
		const char *ops = (op & 0xc0) == 0x80 ? "u" : (op & 0xc0) ? "" :
				  op < 0x30 ? eh_cfa_operands[op] : NULL;
		if (!ops)
			return;
		if (op == 0x2d) {
			taddr_t *n = realloc(md->nops, (md->nnops + 1) * sizeof(*n));
			if (!n)
				return;
			md->nops = n;
			md->nops[md->nnops++] = at + (taddr_t)(p - start);
		}
		p++;
		for (; *ops && p <= end; ops++) {
			uint64_t v;
			size_t n;
			switch (*ops) {
			case 'u': case 's':
				if (!(n = eh_uleb(p, end, &v)))
					return;
				p += n;
				break;
			case 'b':
				if (!(n = eh_uleb(p, end, &v)) || v > (uint64_t)(end - p))
					return;
				p += n + v;
				break;
			case 'a':
				if (!eh_enc_size(enc))
					return;
				p += eh_enc_size(enc);
				break;
			default:
				p += *ops - '0';
			}
		}
	}
}

/* Collects the negate_ra_state opcodes of an .eh_frame (buf, read from sec)
 * into md->nops, sorted, for cfi_patch. */
static void cfi_nops(struct module *md, const uint8_t *buf, size_t size, taddr_t sec)
{
	const uint8_t *end = buf + size;
	for (const uint8_t *p = buf; p + 8 <= end;) {
		uint32_t len, id;
		if (!eh_record(p, end, &len, &id))
			break;
		struct cie c;
		if (id == 0) {
			if (eh_cie_parse(p, end, &c))
				cfa_scan(md, c.insns, c.end, sec + (taddr_t)(c.insns - buf), c.enc);
		} else if (id <= (uint32_t)(p + 4 - buf) && eh_cie_parse(p + 4 - id, end, &c) && c.enc != 0xff &&
			   eh_enc_size(c.enc)) {
			const uint8_t *q = p + 8 + 2 * eh_enc_size(c.enc);	/* pc_begin, pc_range */
			uint64_t v;
			size_t n = 0;
			if (c.aug_z && q < p + 4 + len && (n = eh_uleb(q, p + 4 + len, &v)))
				q += n + v;
			if (!c.aug_z || n)
				cfa_scan(md, q, p + 4 + len, sec + (taddr_t)(q - buf), c.enc);
		}
		p += 4 + len;
	}
	/* CIEs and FDEs are visited in address order: already sorted. */
}

/* Orders built table entries by start address. */
static int cmp_entry(const void *a, const void *b)
{
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
	return x < y ? -1 : x > y;
}

/* Finds the .eh_frame section of the object at path (loaded with bias);
 * returns its address in the target and sets *size, or returns 0. */
static taddr_t eh_frame_section(struct unwinder *u, const char *path, taddr_t bias, uint64_t *size)
{
	char file[4200];
	snprintf(file, sizeof(file), "/proc/%d/root%s", u->t->pid, path);
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	elf_version(EV_CURRENT);
	Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	size_t shstrndx;
	taddr_t sec = 0;
	Elf_Scn *scn = NULL;
	while (elf && elf_getshdrstrndx(elf, &shstrndx) == 0 && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		const char *name;
		if (gelf_getshdr(scn, &sh) && (name = elf_strptr(elf, shstrndx, sh.sh_name)) &&
		    !strcmp(name, ".eh_frame")) {
			sec = bias + sh.sh_addr;
			*size = sh.sh_size;
			break;
		}
	}
	if (elf)
		elf_end(elf);
	close(fd);
	return sec;
}

/* For an object without .eh_frame_hdr (glibc's static executables), builds
 * the binary-search table that header would hold from its .eh_frame (buf,
 * read from sec): each FDE's start address decoded. Without it, stacks
 * would stop at the first frame. */
static void build_table(struct module *md, int index, const uint8_t *buf, size_t size, taddr_t sec, taddr_t base)
{
	int32_t *t = malloc(size);	/* at most one 8-byte entry per 8 bytes */
	size_t n = 0;
	if (!t)
		return;
	const uint8_t *end = buf + size;
	for (const uint8_t *p = buf; p + 8 <= end;) {
		uint32_t len, id;
		if (!eh_record(p, end, &len, &id))
			break;
		if (id != 0 && id <= (uint32_t)(p + 4 - buf)) {
			const uint8_t *cie = p + 4 - id;
			uint8_t enc = eh_cie_fde_encoding(cie, end);
			taddr_t start;
			if (enc != 0xff && eh_pointer(p + 8, end, enc, sec + (taddr_t)(p + 8 - buf), &start) &&
			    start >= base && start - base < INT32_MAX) {
				t[2 * n] = (int32_t)(start - base);
				t[2 * n + 1] = (int32_t)(sec + (taddr_t)(p - buf) - base);
				n++;
			}
		}
		p += 4 + len;
	}
	if (!n) {
		free(t);
		return;
	}
	qsort(t, n, 8, cmp_entry);
	md->table = t;
	md->table_bytes = 8 * n;
	md->table_addr = SYNTH_BASE + (taddr_t)index * SYNTH_STEP;
	memset(&md->di, 0, sizeof(md->di));
	md->di.format = UNW_INFO_FORMAT_REMOTE_TABLE;
	md->di.start_ip = md->lo;
	md->di.end_ip = md->hi;
	md->di.u.rti.segbase = base;
	md->di.u.rti.table_data = md->table_addr;
	md->di.u.rti.table_len = 8 * n / sizeof(unw_word_t);
	md->ok = true;
}

/* Reads the .eh_frame of md's object from the target: builds the search
 * table when the object has no .eh_frame_hdr (build_table), and collects
 * its negate_ra_state opcodes where the arch has them (cfi_nops). */
static void read_eh_frame(struct unwinder *u, struct module *md, const char *path, taddr_t bias,
			  taddr_t base, bool need_table)
{
	uint64_t size = 0;
	taddr_t sec = eh_frame_section(u, path, bias, &size);
	uint8_t *buf = sec && size && size < (64 << 20) ? malloc(size) : NULL;
	if (!buf || target_read(u->t, sec, buf, size) < 0) {
		free(buf);
		return;
	}
	if (arch_cfi_ra_state) {
		cfi_nops(md, buf, size, sec);
		for (int i = 0; md->nnops && i < NPAGES; i++)	/* cached before the patch */
			if (u->pages[i].addr + PAGE > sec && u->pages[i].addr < sec + size)
				u->pages[i].addr = 0;
	}
	if (need_table)
		build_table(md, (int)(md - u->mod), buf, size, sec, base);
	free(buf);
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
	if (!have_bias)
		return;
	if (!hdr || arch_cfi_ra_state)
		read_eh_frame(u, md, text->path, bias, base, !hdr);
	if (!hdr)
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
	if (write || arch_unw_reg(u->regs, u->regs_whole, reg, &v) < 0)
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
	u->rules = calloc(NRULES, sizeof(struct rule_slot));
	u->check = getenv("LEAKTRAP_UNWIND_CHECK") != NULL;
	u->as = unw_create_addr_space(&accessors, 0);
	if (!u->as || !u->pages || !u->rules) {
		unwind_free(u);
		return NULL;
	}
	unw_set_caching_policy(u->as, UNW_CACHE_GLOBAL);
	load_maps(u);
	return u;
}

size_t unwind_copy_stack(struct unwinder *u, taddr_t sp, void *buf, taddr_t word, uint64_t *val)
{
	const struct map *m = find_map(u, sp);	/* re-reads the maps if need be */
	taddr_t end = sp + UNWIND_STACK_COPY;
	if (m && end > m->end)
		end = m->end;
	if (!m || end <= sp)
		return 0;
	/* Page-sized pieces: a partial copy still yields whatever was readable. */
	struct iovec local[UNWIND_STACK_COPY / PAGE + 2], remote[UNWIND_STACK_COPY / PAGE + 2];
	int n = 0;
	uint64_t w;
	if (word) {	/* first: a partial read stops at the first piece it cannot read */
		local[n] = (struct iovec){ &w, 8 };
		remote[n++] = (struct iovec){ (void *)(uintptr_t)word, 8 };
	}
	for (taddr_t a = sp; a < end; n++) {
		taddr_t next = (a & ~(taddr_t)(PAGE - 1)) + PAGE;
		if (next > end)
			next = end;
		local[n] = (struct iovec){ (uint8_t *)buf + (a - sp), next - a };
		remote[n] = (struct iovec){ (void *)(uintptr_t)a, next - a };
		a = next;
	}
	ssize_t got = process_vm_readv(u->t->pid, local, n, remote, n, 0);
	if (word && got >= 8) {
		*val = w;
		got -= 8;
	} else if (word)
		got = 0;
	return got > 0 ? (size_t)got : 0;
}

/* Reads the live stack from sp up into the unwinder's own copy. */
static void copy_stack(struct unwinder *u, taddr_t sp)
{
	u->stack_lo = sp;
	u->stack_hi = sp + unwind_copy_stack(u, sp, u->stack, 0, NULL);
	u->rest_hi = 0;
}

void unwind_set_stack(struct unwinder *u, taddr_t sp, const void *data, size_t len)
{
	if (len > UNWIND_STACK_COPY)
		len = UNWIND_STACK_COPY;
	if (len)
		memcpy(u->stack, data, len);
	u->stack_lo = sp;
	u->stack_hi = sp + len;
	u->rest_hi = 0;
	u->stack_given = len > 0;
}

void unwind_stack_rest(struct unwinder *u, size_t len, taddr_t at)
{
	if (len > UNWIND_STACK_COPY)
		len = UNWIND_STACK_COPY;
	if (u->stack_given && u->stack_lo + len > u->stack_hi) {
		u->rest_hi = u->stack_lo + len;
		u->rest_at = at;
	}
}

/* Reads len bytes of the target at addr through read_word (so from the page
 * cache for unwind tables); returns 0 or -1. */
static int read_bytes(struct unwinder *u, taddr_t addr, uint8_t *buf, size_t len)
{
	for (size_t off = 0; off < len; off += 8) {
		uint64_t w;
		if (read_word(u, addr + off, &w) < 0)
			return -1;
		memcpy(buf + off, &w, len - off < 8 ? len - off : 8);
	}
	return 0;
}

/* Reads the CIE or FDE record at addr (its length word first) into buf;
 * returns its whole length, or 0 when it cannot or it is too long. */
static size_t read_record(struct unwinder *u, taddr_t addr, uint8_t buf[FDE_MAX])
{
	uint32_t len;
	if (read_bytes(u, addr, buf, 8) < 0)
		return 0;
	memcpy(&len, buf, 4);
	if (len < 4 || len > FDE_MAX - 4 || read_bytes(u, addr, buf, 4 + len) < 0)
		return 0;
	return 4 + len;
}

/* Finds the FDE that covers pc in md's search table (int32 pairs: start,
 * FDE, relative to the table's segbase); returns its address or 0. */
static taddr_t find_fde(struct unwinder *u, const struct module *md, taddr_t pc)
{
	taddr_t seg = md->di.u.rti.segbase, tab = md->di.u.rti.table_data;
	size_t lo = 0, hi = md->di.u.rti.table_len * sizeof(unw_word_t) / 8;
	uint64_t w = 0;
	bool found = false;
	while (lo < hi) {	/* the last entry starting at or before pc */
		size_t mid = (lo + hi) / 2;
		uint64_t e;
		if (read_word(u, tab + 8 * mid, &e) < 0)
			return 0;
		if (seg + (int64_t)(int32_t)(uint32_t)e <= pc) {
			w = e;
			found = true;
			lo = mid + 1;
		} else
			hi = mid;
	}
	return found ? seg + (int64_t)(int32_t)(uint32_t)(w >> 32) : 0;
}

/* Learns the CFA rule at pc (a return address minus one) from the FDE that
 * covers it; returns 0, or -1 when there is none or it cannot be read. */
static int learn_rule(struct unwinder *u, taddr_t pc, struct eh_rule *r)
{
	struct module *md = NULL;
	for (int pass = 0; pass < 2 && !md; pass++) {
		for (int i = 0; i < u->nmod && !md; i++)
			if (pc >= u->mod[i].lo && pc < u->mod[i].hi)
				md = &u->mod[i];
		if (!md && pass == 0)
			load_maps(u);	/* a module loaded since: dlopen */
	}
	if (md && !md->tried)
		load_eh_frame_hdr(u, md);
	if (!md || !md->ok)
		return -1;
	uint8_t fde[FDE_MAX], cie[FDE_MAX];
	taddr_t at = find_fde(u, md, pc);
	size_t flen = at ? read_record(u, at, fde) : 0;
	if (flen < 8 + 2 * 4)
		return -1;
	uint32_t id;
	memcpy(&id, fde + 4, 4);
	struct cie c;
	size_t clen = id ? read_record(u, at + 4 - id, cie) : 0;
	if (!clen || !eh_cie_parse(cie, cie + clen, &c) || c.enc == 0xff)
		return -1;
	struct fde f;
	if (!eh_fde_parse(fde, flen, at, &c, &f) || pc < f.begin || pc - f.begin >= f.range)
		return -1;
	return eh_rule(&c, f.insns, f.end, f.begin, pc, arch_dw_fp, r);
}

/* Whether pc points at the signal return trampoline (libunwind's own
 * unw_is_signal_frame means different frames on different arches). */
static bool at_sigreturn(struct unwinder *u, taddr_t pc)
{
	uint64_t w[2];
	return read_word(u, pc, &w[0]) == 0 && read_word(u, pc + 8, &w[1]) == 0 &&
	       memcmp(w, arch_sigreturn_insn, arch_sigreturn_insn_len) == 0;
}

/* The rule of the frames that return to pc, or NULL if they are libunwind's:
 * a signal frame, code without unwind tables, a rule beyond the CFA, return
 * address and frame pointer at fixed offsets. */
static const struct eh_rule *frame_rule(struct unwinder *u, taddr_t pc)
{
	struct rule_slot *s = &u->rules[(pc ^ (pc >> 13)) % NRULES];
	if (s->pc != pc) {
		s->pc = pc;
		s->ok = !at_sigreturn(u, pc) && learn_rule(u, pc - 1, &s->r) == 0 &&
			(s->r.cfa_reg == arch_dw_sp || s->r.cfa_reg == arch_dw_fp) &&
			(s->r.ra_how == EH_AT_CFA || s->r.ra_how == EH_UNDEFINED) &&
			s->r.fp_how != EH_OTHER;
	}
	return s->ok ? &s->r : NULL;
}

/*
 * Unwinds from a caller frame with the learnt rules alone: nearly every
 * frame of compiled code has its CFA at the stack or frame pointer plus a
 * constant, and its return address and frame pointer saved at fixed
 * offsets from it, so a step is two reads of the stack copy. libunwind
 * costs a microsecond and more per stack (and blocks every signal around
 * its global cache). Returns the number of frames, or -1 when a frame needs
 * libunwind; what it gives is what libunwind would.
 */
static int fast_unwind(struct unwinder *u, const struct arch_regs *caller, taddr_t *frames, int max)
{
	taddr_t pc = arch_pc(caller), sp = arch_sp(caller);
	uint64_t fp;
	bool fp_ok = arch_unw_reg(caller, false, arch_dw_fp, &fp) == 0;
	int n = 0;
	frames[n++] = pc;
	while (n < max) {
		const struct eh_rule *r = frame_rule(u, pc);
		if (!r)
			return -1;
		if (r->ra_how == EH_UNDEFINED)
			break;		/* the outermost frame (_start, clone) */
		if (r->cfa_reg == arch_dw_fp && !fp_ok)
			return -1;
		taddr_t cfa = (r->cfa_reg == arch_dw_sp ? sp : fp) + (taddr_t)r->cfa_off;
		uint64_t ra;
		if (cfa <= sp || read_word(u, cfa + (taddr_t)r->ra_off, &ra) < 0)
			return -1;
		if (r->fp_how == EH_AT_CFA)
			fp_ok = read_word(u, cfa + (taddr_t)r->fp_off, &fp) == 0;
		else if (r->fp_how == EH_UNDEFINED)
			fp_ok = false;
		pc = arch_strip_pc(ra);
		sp = cfa;
		if (!pc)
			break;
		frames[n++] = pc;
	}
	return n;
}

/* arch_regs_from_unw's source: a register of the cursor's frame. */
static int cursor_reg(void *cursor, int unw_regnum, uint64_t *val)
{
	unw_word_t v;
	if (unw_get_reg(cursor, unw_regnum, &v) < 0)
		return -1;
	*val = v;
	return 0;
}

/* Steps c to the caller's frame; returns that frame's pc, stripped of any
 * pointer authentication code, or 0 at the end of the stack. A signed
 * return address restarts the cursor at the stripped pc, which libunwind
 * would look up as it is; *more turns false when that restart failed. */
static taddr_t step_frame(struct unwinder *u, unw_cursor_t *c, bool *more)
{
	unw_word_t ip;
	if (unw_step(c) <= 0 || unw_get_reg(c, UNW_REG_IP, &ip) < 0 || ip == 0)
		return 0;
	taddr_t pc = arch_strip_pc(ip);
	if (pc != ip) {
		memset(&u->frame_regs, 0, sizeof(u->frame_regs));
		arch_regs_from_unw(&u->frame_regs, cursor_reg, c);
		arch_set_pc(&u->frame_regs, pc);
		u->regs = &u->frame_regs;
		u->regs_whole = false;
		*more = unw_init_remote(c, u->as, u) >= 0;
	}
	return pc;
}

/* Unwinds from a caller frame with libunwind, from the stack in hand;
 * returns the number of frames. */
static int full_unwind(struct unwinder *u, const struct arch_regs *caller, taddr_t *frames, int max)
{
	unw_cursor_t c;
	int n = 0;
	u->regs = caller;
	u->regs_whole = false;
	frames[n++] = arch_pc(caller);
	bool more = unw_init_remote(&c, u->as, u) >= 0;
	while (n < max && more) {
		taddr_t pc = step_frame(u, &c, &more);
		if (!pc)
			break;
		frames[n++] = pc;
	}
	return n;
}

/* Counts a stack the rules unwound differently from libunwind, and shows
 * the first few on stderr, both ways. Where libunwind's is a part of the
 * rules' (it gave up early: with pointer authentication it restarts from
 * the few registers it can trust at each signed return address), the
 * stack is counted as deeper instead. */
static void check_failed(struct unwinder *u, const taddr_t *fast, int n, const taddr_t *full, int m)
{
	bool deeper = m < n && memcmp(fast, full, (size_t)m * sizeof(*full)) == 0;
	if ((deeper ? u->counts.deeper++ : u->counts.differ++) >= 3)
		return;
	fprintf(stderr, "leaktrap: unwind check (%s): rules give", deeper ? "deeper" : "differ");
	for (int i = 0; i < n; i++)
		fprintf(stderr, " " TADDR_FMT, TADDR_ARG(fast[i]));
	fprintf(stderr, "; libunwind gives");
	for (int i = 0; i < m; i++)
		fprintf(stderr, " " TADDR_FMT, TADDR_ARG(full[i]));
	fprintf(stderr, "\n");
}

int unwind_stack(struct unwinder *u, const struct arch_regs *caller, taddr_t *frames, int max)
{
	if (!u->stack_given || u->stack_lo != arch_sp(caller))
		copy_stack(u, arch_sp(caller));
	u->stack_given = false;
	int n = fast_unwind(u, caller, frames, max);
	if (n < 0) {
		n = full_unwind(u, caller, frames, max);
		u->counts.full++;
	} else if (u->check) {
		taddr_t again[LT_MAX_FRAMES];
		int m = full_unwind(u, caller, again, max < LT_MAX_FRAMES ? max : LT_MAX_FRAMES);
		u->counts.checked++;
		u->counts.fast++;
		if (m != n || memcmp(again, frames, (size_t)n * sizeof(*frames)) != 0)
			check_failed(u, frames, n, again, m);
	} else
		u->counts.fast++;
	u->stack_lo = u->stack_hi = u->rest_hi = 0;
	return n;
}

void unwind_counts(const struct unwinder *u, struct unwind_counts *c)
{
	static const struct unwind_counts none;
	*c = u ? u->counts : none;
}

int unwind_interrupted(struct unwinder *u, const struct arch_regs *regs, taddr_t *pcs, taddr_t *locs,
		       int max)
{
	unw_cursor_t c;
	taddr_t pc = arch_strip_pc(arch_pc(regs));
	int n = 0;
	u->regs = regs;
	u->regs_whole = true;
	copy_stack(u, arch_sp(regs));
	u->stack_given = false;
	bool more = unw_init_remote(&c, u->as, u) >= 0;
	for (int depth = 0; n < max && more && depth < 64; depth++) {
		bool sig = at_sigreturn(u, pc);
		if (!(pc = step_frame(u, &c, &more)))
			break;
		if (!sig)
			continue;
		/* the frame a signal interrupted: its pc is exact, never signed */
		unw_save_loc_t loc;
		pcs[n] = pc;
		locs[n] = unw_get_save_loc(&c, arch_unw_pc, &loc) == 0 && loc.type == UNW_SLT_MEMORY ?
			  loc.u.addr : 0;
		n++;
	}
	u->stack_lo = u->stack_hi = u->rest_hi = 0;
	u->regs_whole = false;
	return n;
}

void unwind_flush(struct unwinder *u)
{
	unw_flush_cache(u->as, 0, 0);
	for (int i = 0; i < NPAGES; i++)
		u->pages[i].addr = 0;
	memset(u->rules, 0, NRULES * sizeof(struct rule_slot));
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
	for (int i = 0; i < u->nmod; i++) {
		free(u->mod[i].table);
		free(u->mod[i].nops);
	}
	free(u->pages);
	free(u->rules);
	free(u);
}
