/* test_ehframe: the CFA-program interpreter that lets the unwinder step
 * most frames without libunwind. Hand-written CIEs and FDEs for every
 * opcode it follows and every case it must refuse; then every FDE of the
 * installed libc, of libdw and of this program, at its first, middle and
 * last instruction, against elfutils' own CFI interpreter (libdw). Prints
 * TAP lines; exit 0 only if every check passes. */
#include <dlfcn.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch.h"
#include "ehframe.h"

static int failures, checks;
#define CHECK(cond, ...) do { checks++; if (cond) printf("ok %d - ", checks); \
	else { failures++; printf("not ok %d - ", checks); } printf(__VA_ARGS__); printf("\n"); } while (0)

/* An x86-64 CIE as GCC writes it: "zR", code 1, data -8, return address
 * column 16, pcrel sdata4 FDE pointers; CFA = rsp + 8, RA at CFA - 8. */
static const uint8_t cie_x86[] = {
	0x14, 0, 0, 0, 0, 0, 0, 0, 1, 'z', 'R', 0, 0x01, 0x78, 0x10, 0x01, 0x1b,
	0x0c, 0x07, 0x08, 0x90, 0x01, 0, 0,
};
/* An aarch64 one: code 4, data -8, return address column 30 (x30); CFA = sp. */
static const uint8_t cie_a64[] = {
	0x10, 0, 0, 0, 0, 0, 0, 0, 1, 'z', 'R', 0, 0x04, 0x78, 0x1e, 0x01, 0x1b,
	0x0c, 0x1f, 0x00, 0,
};

/* Runs insns (an FDE's program, code from 0x1000) with cie to pc; returns eh_rule's. */
static int rule(const uint8_t *cie, size_t cie_len, const uint8_t *insns, size_t len, taddr_t pc,
		int fp, struct eh_rule *r)
{
	struct cie c;
	if (!eh_cie_parse(cie, cie + cie_len, &c))
		return -2;
	return eh_rule(&c, insns, insns + len, 0x1000, pc, fp, r);
}

/* Whether r is CFA = reg + off, the RA (ra_how, ra_off) and fp (fp_how, fp_off). */
static bool is(const struct eh_rule *r, int reg, int64_t off, int ra_how, int64_t ra_off, int fp_how,
	       int64_t fp_off)
{
	return r->cfa_reg == reg && r->cfa_off == off && r->ra_how == ra_how &&
	       (ra_how != EH_AT_CFA || r->ra_off == ra_off) && r->fp_how == fp_how &&
	       (fp_how != EH_AT_CFA || r->fp_off == fp_off);
}

static void hand_written(void)
{
	struct cie c;
	CHECK(eh_cie_parse(cie_x86, cie_x86 + sizeof(cie_x86), &c) && c.code_align == 1 &&
	      c.data_align == -8 && c.ra == 16 && c.enc == 0x1b && c.aug_z,
	      "x86-64 CIE: code 1, data -8, RA column 16, encoding 0x1b");
	CHECK(eh_cie_parse(cie_a64, cie_a64 + sizeof(cie_a64), &c) && c.code_align == 4 && c.ra == 30,
	      "aarch64 CIE: code 4, RA column 30");

	int64_t s;
	CHECK(eh_sleb((const uint8_t[]){ 0x7f }, (const uint8_t[]){ 0 } + 1, &s) == 1 && s == -1, "sleb 0x7f = -1");
	const uint8_t m128[] = { 0x80, 0x7f }, p63[] = { 0x3f }, m64[] = { 0x40 }, p128[] = { 0x80, 0x01 };
	CHECK(eh_sleb(m128, m128 + 2, &s) == 2 && s == -128, "sleb 80 7f = -128");
	CHECK(eh_sleb(p63, p63 + 1, &s) == 1 && s == 63, "sleb 3f = 63");
	CHECK(eh_sleb(m64, m64 + 1, &s) == 1 && s == -64, "sleb 40 = -64");
	CHECK(eh_sleb(p128, p128 + 2, &s) == 2 && s == 128, "sleb 80 01 = 128");
	CHECK(eh_sleb(m128, m128 + 1, &s) == 0, "sleb cut short: refused");

	/* push %rbp; mov %rsp,%rbp; ...; a remembered row; an epilogue; restored */
	const uint8_t prog[] = {
		0x41, 0x0e, 0x10, 0x86, 0x02,	/* +1: CFA = rsp+16, rbp at CFA-16 */
		0x43, 0x0d, 0x06,		/* +4: CFA = rbp+16 */
		0x0a,				/*     remember */
		0x48, 0x0c, 0x07, 0x08, 0xc6,	/* +12: CFA = rsp+8, rbp restored */
		0x42, 0x0b,			/* +14: the remembered row */
	};
	struct eh_rule r;
	const struct { taddr_t pc; int reg; int64_t off; int fp_how; } rows[] = {
		{ 0x1000, 7, 8, EH_SAME }, { 0x1001, 7, 16, EH_AT_CFA }, { 0x1003, 7, 16, EH_AT_CFA },
		{ 0x1004, 6, 16, EH_AT_CFA }, { 0x100b, 6, 16, EH_AT_CFA }, { 0x100c, 7, 8, EH_SAME },
		{ 0x100d, 7, 8, EH_SAME }, { 0x100e, 6, 16, EH_AT_CFA }, { 0x2000, 6, 16, EH_AT_CFA },
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		CHECK(rule(cie_x86, sizeof(cie_x86), prog, sizeof(prog), rows[i].pc, 6, &r) == 0 &&
		      is(&r, rows[i].reg, rows[i].off, EH_AT_CFA, -8, rows[i].fp_how, -16),
		      "frame-pointer function at +%llu: CFA = r%d + %lld", (unsigned long long)(rows[i].pc - 0x1000),
		      rows[i].reg, (long long)rows[i].off);
	CHECK(rule(cie_x86, sizeof(cie_x86), prog, sizeof(prog), 0xfff, 6, &r) == -1, "pc before the FDE: refused");

	const uint8_t loc124[] = { 0x02, 0x10, 0x0e, 0x10, 0x03, 0x00, 0x01, 0x0e, 0x18, 0x04, 0, 0, 1, 0, 0x0e, 0x20 };
	CHECK(rule(cie_x86, sizeof(cie_x86), loc124, sizeof(loc124), 0x100f, 6, &r) == 0 && r.cfa_off == 8 &&
	      rule(cie_x86, sizeof(cie_x86), loc124, sizeof(loc124), 0x1010, 6, &r) == 0 && r.cfa_off == 16 &&
	      rule(cie_x86, sizeof(cie_x86), loc124, sizeof(loc124), 0x1110, 6, &r) == 0 && r.cfa_off == 24 &&
	      rule(cie_x86, sizeof(cie_x86), loc124, sizeof(loc124), 0x11110, 6, &r) == 0 && r.cfa_off == 32,
	      "advance_loc1, 2 and 4");

	const uint8_t sf[] = { 0x12, 0x07, 0x7e, 0x11, 0x06, 0x7d, 0x13, 0x7c };	/* def_cfa_sf, offset_extended_sf, def_cfa_offset_sf */
	CHECK(rule(cie_x86, sizeof(cie_x86), sf, 6, 0x1000, 6, &r) == 0 && is(&r, 7, 16, EH_AT_CFA, -8, EH_AT_CFA, 24),
	      "def_cfa_sf and offset_extended_sf: factored by -8");
	CHECK(rule(cie_x86, sizeof(cie_x86), sf, sizeof(sf), 0x1000, 6, &r) == 0 && r.cfa_off == 32,
	      "def_cfa_offset_sf");
	const uint8_t ext[] = { 0x05, 0x06, 0x03, 0x2f, 0x10, 0x01, 0x06, 0x06 };	/* offset_ext, GNU negative, restore_ext */
	CHECK(rule(cie_x86, sizeof(cie_x86), ext, 6, 0x1000, 6, &r) == 0 && is(&r, 7, 8, EH_AT_CFA, 8, EH_AT_CFA, -24),
	      "offset_extended and GNU_negative_offset_extended");
	CHECK(rule(cie_x86, sizeof(cie_x86), ext, sizeof(ext), 0x1000, 6, &r) == 0 && r.fp_how == EH_SAME,
	      "restore_extended goes back to the CIE's rule");
	const uint8_t undef[] = { 0x07, 0x10, 0x08, 0x06, 0x2e, 0x10, 0x00 };	/* undefined RA, same_value, args_size, nop */
	CHECK(rule(cie_x86, sizeof(cie_x86), undef, sizeof(undef), 0x1000, 6, &r) == 0 && r.ra_how == EH_UNDEFINED &&
	      r.fp_how == EH_SAME, "undefined return address: the outermost frame");
	const uint8_t other_reg[] = { 0x86, 0x02, 0x83, 0x03, 0x0c, 0x03, 0x10 };	/* rbx saved; CFA = rbx + 16 */
	CHECK(rule(cie_x86, sizeof(cie_x86), other_reg, sizeof(other_reg), 0x1000, 6, &r) == 0 && r.cfa_reg == 3 &&
	      r.fp_how == EH_AT_CFA, "a CFA on another register is reported as it is");

	const uint8_t cfa_expr[] = { 0x0f, 0x02, 0x77, 0x08 };
	CHECK(rule(cie_x86, sizeof(cie_x86), cfa_expr, sizeof(cfa_expr), 0x1000, 6, &r) == 0 && r.cfa_reg == -1,
	      "def_cfa_expression: no register");
	const uint8_t fp_expr[] = { 0x10, 0x06, 0x01, 0x9c, 0x16, 0x10, 0x01, 0x9c };
	CHECK(rule(cie_x86, sizeof(cie_x86), fp_expr, sizeof(fp_expr), 0x1000, 6, &r) == 0 &&
	      r.fp_how == EH_OTHER && r.ra_how == EH_OTHER, "expression and val_expression: other");
	const uint8_t fp_reg[] = { 0x09, 0x06, 0x03, 0x14, 0x10, 0x01 };
	CHECK(rule(cie_x86, sizeof(cie_x86), fp_reg, sizeof(fp_reg), 0x1000, 6, &r) == 0 &&
	      r.fp_how == EH_OTHER && r.ra_how == EH_OTHER, "register and val_offset: other");
	const uint8_t others[] = { 0x83, 0x03, 0x10, 0x0c, 0x02, 0x77, 0x08, 0x09, 0x0c, 0x03 };
	CHECK(rule(cie_x86, sizeof(cie_x86), others, sizeof(others), 0x1000, 6, &r) == 0 && is(&r, 7, 8, EH_AT_CFA, -8, EH_SAME, 0),
	      "rules of registers not followed leave the others alone");

	const uint8_t unknown[] = { 0x1e };
	CHECK(rule(cie_x86, sizeof(cie_x86), unknown, 1, 0x1000, 6, &r) == -1, "an unknown opcode: refused");
	const uint8_t set_loc[] = { 0x01, 0, 0, 0, 0 };
	CHECK(rule(cie_x86, sizeof(cie_x86), set_loc, sizeof(set_loc), 0x1000, 6, &r) == -1, "set_loc: refused");
	const uint8_t cut[] = { 0x0c, 0x07 };
	CHECK(rule(cie_x86, sizeof(cie_x86), cut, sizeof(cut), 0x1000, 6, &r) == -1, "a truncated operand: refused");
	const uint8_t cut_block[] = { 0x0f, 0x05, 0x77 };
	CHECK(rule(cie_x86, sizeof(cie_x86), cut_block, sizeof(cut_block), 0x1000, 6, &r) == -1, "a block past the end: refused");
	const uint8_t pop[] = { 0x0b };
	CHECK(rule(cie_x86, sizeof(cie_x86), pop, 1, 0x1000, 6, &r) == -1, "restore_state with nothing remembered: refused");
	uint8_t deep[9];
	memset(deep, 0x0a, sizeof(deep));
	CHECK(rule(cie_x86, sizeof(cie_x86), deep, 8, 0x1000, 6, &r) == 0 &&
	      rule(cie_x86, sizeof(cie_x86), deep, 9, 0x1000, 6, &r) == -1, "8 remembered states kept, a 9th refused");
	const uint8_t late[] = { 0x41, 0x1e };	/* an unknown opcode past pc is never reached */
	CHECK(rule(cie_x86, sizeof(cie_x86), late, sizeof(late), 0x1000, 6, &r) == 0, "opcodes past pc are not run");

	/* stp x29, x30, [sp, -32]!: CFA = sp + 32, x29 at -32, x30 at -24;
	 * paciasp marked before it */
	const uint8_t a64[] = { 0x2d, 0x41, 0x0e, 0x20, 0x9d, 0x04, 0x9e, 0x03, 0x41, 0x0d, 0x1d };
	CHECK(rule(cie_a64, sizeof(cie_a64), a64, sizeof(a64), 0x1000, 29, &r) == 0 &&
	      is(&r, 31, 0, EH_SAME, 0, EH_SAME, 0), "aarch64 entry: CFA = sp, x30 unchanged");
	CHECK(rule(cie_a64, sizeof(cie_a64), a64, sizeof(a64), 0x1004, 29, &r) == 0 &&
	      is(&r, 31, 32, EH_AT_CFA, -24, EH_AT_CFA, -32), "aarch64 after stp: advance factored by 4");
	CHECK(rule(cie_a64, sizeof(cie_a64), a64, sizeof(a64), 0x1008, 29, &r) == 0 && r.cfa_reg == 29 && r.cfa_off == 32,
	      "aarch64 CFA on x29");
}

/* enum eh_how of libdw's location of a register, and its CFA offset. */
static int dw_how(Dwarf_Frame *fr, int reg, Dwarf_Op *mem, int64_t *off)
{
	Dwarf_Op *ops;
	size_t n;
	if (dwarf_frame_register(fr, reg, mem, &ops, &n) < 0)
		return -1;
	if (n == 0)
		return ops ? EH_UNDEFINED : EH_SAME;
	if (ops[0].atom != DW_OP_call_frame_cfa)
		return EH_OTHER;
	if (n == 1) {
		*off = 0;
		return EH_AT_CFA;
	}
	if (n == 2 && ops[1].atom == DW_OP_plus_uconst) {
		*off = (int64_t)ops[1].number;
		return EH_AT_CFA;
	}
	return EH_OTHER;
}

/* Compares eh_rule with libdw on pc of the FDE whose program is [q, end). */
static void compare_at(Dwarf_CFI *cfi, const struct cie *c, const uint8_t *q, const uint8_t *end, taddr_t begin,
		       taddr_t pc, int *compared, int *refused, int *differ, const char *path)
{
	struct eh_rule r;
	Dwarf_Frame *fr;
	if (dwarf_cfi_addrframe(cfi, pc, &fr) != 0)
		return;
	if (eh_rule(c, q, end, begin, pc, arch_dw_fp, &r) < 0) {
		(*refused)++;
		free(fr);
		return;
	}
	Dwarf_Op *ops, mem[3];
	size_t n;
	int reg = -1;
	int64_t off = 0, ra_off = 0, fp_off = 0;
	if (dwarf_frame_cfa(fr, &ops, &n) == 0 && n == 1 && ops[0].atom == DW_OP_bregx) {
		reg = (int)ops[0].number;	/* libdw gives a register rule as bregx */
		off = (int64_t)ops[0].number2;
	}
	int ra = dw_how(fr, (int)c->ra, mem, &ra_off), fp = dw_how(fr, arch_dw_fp, mem, &fp_off);
	/* A register the program never names: libdw takes the ABI's default
	 * (same or undefined), eh_rule says the same; the unwinder steps
	 * neither a same return address nor through an undefined fp. */
	bool ok = reg == r.cfa_reg && (reg < 0 || off == r.cfa_off) &&
		  (r.ra_how == EH_SAME ? ra == EH_SAME || ra == EH_UNDEFINED : ra == r.ra_how) &&
		  (r.ra_how != EH_AT_CFA || ra_off == r.ra_off) &&
		  (r.fp_how == EH_SAME ? fp == EH_SAME || fp == EH_UNDEFINED : fp == r.fp_how) &&
		  (r.fp_how != EH_AT_CFA || fp_off == r.fp_off);
	(*compared)++;
	if (!ok && (*differ)++ < 5)
		printf("# %s pc 0x%llx: ours CFA r%d%+lld ra %d%+lld fp %d%+lld; libdw CFA r%d%+lld ra %d%+lld fp %d%+lld\n",
		       path, (unsigned long long)pc, r.cfa_reg, (long long)r.cfa_off, r.ra_how, (long long)r.ra_off,
		       r.fp_how, (long long)r.fp_off, reg, (long long)off, ra, (long long)ra_off, fp, (long long)fp_off);
	free(fr);
}

/* Every FDE of the .eh_frame of the ELF file at path, at three pcs each. */
static void against_libdw(const char *path)
{
	int fd = open(path, O_RDONLY);
	Elf *elf = fd >= 0 ? elf_begin(fd, ELF_C_READ, NULL) : NULL;
	Dwarf_CFI *cfi = elf ? dwarf_getcfi_elf(elf) : NULL;
	size_t shstrndx;
	Elf_Scn *scn = NULL;
	Elf_Data *d = NULL;
	GElf_Shdr sh;
	while (cfi && elf_getshdrstrndx(elf, &shstrndx) == 0 && (scn = elf_nextscn(elf, scn)))
		if (gelf_getshdr(scn, &sh) && !strcmp(elf_strptr(elf, shstrndx, sh.sh_name), ".eh_frame")) {
			d = elf_getdata(scn, NULL);
			break;
		}
	int fdes = 0, compared = 0, refused = 0, differ = 0;
	const uint8_t *buf = d ? d->d_buf : NULL, *end = buf ? buf + d->d_size : NULL;
	for (const uint8_t *p = buf; p && p + 8 <= end;) {
		uint32_t len, id;
		if (!eh_record(p, end, &len, &id))
			break;
		struct cie c;
		struct fde f;
		if (id && id <= (uint32_t)(p + 4 - buf) && eh_cie_parse(p + 4 - id, end, &c) && c.enc != 0xff &&
		    eh_fde_parse(p, 4 + len, sh.sh_addr + (taddr_t)(p - buf), &c, &f) && f.range) {
			fdes++;
			taddr_t pcs[] = { f.begin, f.begin + f.range / 2, f.begin + f.range - 1 };
			for (int i = 0; i < 3; i++)
				compare_at(cfi, &c, f.insns, f.end, f.begin, pcs[i], &compared, &refused, &differ, path);
		}
		p += 4 + len;
	}
	CHECK(compared > 100 && differ == 0 && refused * 20 < compared,
	      "%s: %d FDEs, %d rows compared with libdw, %d differ, %d left to libunwind", path, fdes, compared,
	      differ, refused);
	if (elf)
		elf_end(elf);
	if (fd >= 0)
		close(fd);
}

/* The path of the object that holds addr. */
static const char *object_of(const void *addr)
{
	Dl_info info;
	return dladdr(addr, &info) && info.dli_fname ? info.dli_fname : "?";
}

int main(void)
{
	hand_written();
	elf_version(EV_CURRENT);
	static char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0)
		self[n] = 0;
	against_libdw(object_of((void *)fopen));
	against_libdw(object_of((void *)dwarf_begin));
	against_libdw(self);
	printf("1..%d\n", checks);
	return failures != 0;
}
