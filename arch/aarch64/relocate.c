/*
 * aarch64 relocator: moves the instruction at the start of a function into a
 * trampoline so that a 4-byte `b` (or a 4-byte `brk`) can take its place.
 * Anything it cannot prove correct is refused with a reason; the caller then
 * falls back to the breakpoint or leaves the function alone.
 *
 * The trampoline is:
 *	displaced instructions, each copied word for word, re-encoded with a
 *	new offset where the target is still in direct reach, or rewritten
 *	with the absolute target materialised by movz/movk
 *	b entry+skip+displaced
 * The branch back is left out when the last displaced instruction does not
 * fall through (ret, br, b, bl, blr): it would be dead code aimed at
 * whatever follows the window, which for a function that is one `ret` is
 * past its end. A `ret` at the entry is thus relocated as itself.
 *
 * What a PC-relative instruction becomes (x16 is IP0, free at function
 * entry by the ABI; the stub uses it too, before the trampoline runs):
 *	adr/adrp Xd	adr/adrp Xd with a new offset, else movz/movk Xd, #abs
 *	ldr Wt|Xt|ldrsw Xt, lit	ldr with a new offset, else movz/movk Xt, #abs;
 *			ldr Wt|Xt / ldrsw Xt, [Xt] (x16 when Rt is the zero register)
 *	ldr St|Dt|Qt, lit	ldr with a new offset, else movz/movk x16; ldr [x16]
 *	prfm op, lit	prfm with a new offset, else movz/movk x16; prfm op, [x16]
 *			(kept, not dropped: the trampoline then touches the
 *			caches as the original did, and a test can check it)
 *	b		b, else movz/movk x16; br x16
 *	bl		movz/movk x30, #(its own address + 4); then as b
 *	blr Xn		mov x16, Xn; movz/movk x30, #(its address + 4); br x16
 *	b.cond/cbz/cbnz/tbz/tbnz	the same with a new offset, else the inverse
 *			condition over "as b" (b.al and b.nv, which cannot be
 *			inverted, are b)
 * A call returns to the original function, never into the trampoline:
 * the trampoline is unmapped at detach while a callee may still be running,
 * and the unwinder then sees the real caller. So a call must be the last
 * displaced instruction (its return address is the body), and no branch back
 * follows it. (A process that runs with the arm64 guarded control stack
 * would fault on the callee's ret, as no bl pushed it; allocator entries do
 * not start with a call, which would lose their own return address.)
 * `br x16` is used only where no direct branch reaches: with
 * BTI, an indirect branch faults unless it lands on a landing pad; x16 makes
 * it BTYPE 01, which every landing pad (bti c/j/jc, paciasp) accepts, but a
 * branch target inside a function is usually no landing pad at all.
 *
 * Landing pads: `bti c`, `bti j`, `bti jc` (hint #34/#36/#38) and `paciasp`,
 * `pacibsp` (hint #25/#27, which BTI treats as `bti c`) as the first
 * instruction stay in place and the patch goes after them (skip = 4). Only
 * the first instruction is ever kept: a `paciasp` after `bti c` is no landing
 * pad, and is better relocated. Its modifier is SP, not PC, so it signs the
 * same value in the trampoline; and a stub that *calls* the trampoline gets
 * its own return address signed there, which the body's autiasp then checks.
 * Left in place, it would sign the caller's return address before the stub
 * runs, and a stub that calls the trampoline would have to sign its own
 * return address itself: that is the one case (paciasp/pacibsp as the entry)
 * where it must.
 *
 * Instructions are classified by encoding masks (data, below), not by
 * capstone's groups: capstone 4.0.2 puts adr, adrp, ldr literal, brk and eret
 * in no group. capstone is still asked to decode every displaced word, and
 * what it cannot decode (including the ARMv8.3 retaa/braa family, which it
 * does not know) is refused.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <capstone/capstone.h>

#include "arch.h"

#define INSN 4			/* every A64 instruction */
#define X16 16			/* IP0: the scratch register */
#define X30 30			/* the link register */
#define ZR 31			/* the zero register, as an Rt/Rd field */

/* The most words one displaced instruction becomes: bl out of reach is
 * 4 movz/movk x30, 4 movz/movk x16, br x16. */
#define EMIT_MAX 9

/* What an encoding is, as far as relocation is concerned. */
enum kind {
	K_COPY,		/* not PC-relative: copied word for word */
	K_LEAVE,	/* br, ret, braa..., retaa...: copied, control does not fall through */
	K_ADR,
	K_ADRP,
	K_B,
	K_BL,
	K_BLR,
	K_BCOND,	/* b.cond imm19 */
	K_CB,		/* cbz/cbnz imm19 */
	K_TB,		/* tbz/tbnz imm14 */
	K_LDRLIT,	/* ldr/ldrsw/prfm (literal) imm19 */
};

/* One encoding class: word & mask == value. The first match wins, so the
 * narrower encodings of a class come before its catch-all. The kind also
 * serves the scan for references into the window, refused or not. */
struct enc {
	uint32_t mask, value;
	enum kind kind;
	const char *why;	/* non-NULL: never relocated, and why */
};

static const struct enc encs[] = {
	/* PC-relative addressing and immediate branches. */
	{ 0x9f000000, 0x10000000, K_ADR, NULL },	/* adr Xd, label */
	{ 0x9f000000, 0x90000000, K_ADRP, NULL },	/* adrp Xd, label */
	{ 0xfc000000, 0x14000000, K_B, NULL },		/* b label */
	{ 0xfc000000, 0x94000000, K_BL, NULL },		/* bl label */
	{ 0xff000010, 0x54000000, K_BCOND, NULL },	/* b.cond label */
	{ 0xff000010, 0x54000010, K_BCOND,		/* bc.cond label */
	  "bc.cond (FEAT_HBC) is not modelled" },
	{ 0x7e000000, 0x34000000, K_CB, NULL },		/* cbz/cbnz Rt, label */
	{ 0x7e000000, 0x36000000, K_TB, NULL },		/* tbz/tbnz Rt, #b, label */
	{ 0xff000000, 0xdc000000, K_COPY,		/* opc 11 V 1 */
	  "unallocated literal load" },
	{ 0x3b000000, 0x18000000, K_LDRLIT, NULL },	/* ldr/ldrsw/prfm literal */
	/* Unconditional branch (register). */
	{ 0xfffffc1f, 0xd61f0000, K_LEAVE, NULL },	/* br Xn */
	{ 0xfffff81f, 0xd61f081f, K_LEAVE, NULL },	/* braaz/brabz Xn */
	{ 0xfffff800, 0xd71f0800, K_LEAVE, NULL },	/* braa/brab Xn, Xm */
	{ 0xfffffc1f, 0xd65f0000, K_LEAVE, NULL },	/* ret Xn */
	{ 0xfffffbff, 0xd65f0bff, K_LEAVE, NULL },	/* retaa/retab */
	{ 0xfffffc1f, 0xd63f0000, K_BLR, NULL },	/* blr Xn */
	{ 0xfffff81f, 0xd63f081f, K_COPY,		/* blraaz/blrabz Xn */
	  "an authenticated call is not modelled" },
	{ 0xfffff800, 0xd73f0800, K_COPY,		/* blraa/blrab Xn, Xm */
	  "an authenticated call is not modelled" },
	{ 0xfe000000, 0xd6000000, K_COPY,		/* eret, eretaa, drps */
	  "exception return: undefined at EL0, it would fault in the trampoline" },
	/* svc, hvc, smc, brk, hlt, dcps: the kernel (or our own tracer, for
	 * brk) would see a PC in the trampoline. */
	{ 0xff000000, 0xd4000000, K_COPY,
	  "enters the kernel or traps with a PC in the trampoline" },
	/* ldxr/ldaxr/stxr/stlxr(b/h) and the pairs. A load-exclusive in the
	 * trampoline and its store-exclusive in the body are split by a
	 * branch; the architecture promises progress only for a short
	 * straight-line sequence, so the store may fail on every retry. */
	{ 0x3fa00000, 0x08000000, K_COPY,
	  "exclusive access: split by the branch back, the exclusive pair may never succeed" },
	{ 0xbfa00000, 0x88200000, K_COPY,
	  "exclusive access: split by the branch back, the exclusive pair may never succeed" },
};

/* The eight ldr (literal) forms, indexed by opc:V (bits 31:30, bit 26):
 * the load's size and the ldr/prfm (unsigned offset, #0) word that does the
 * same from a base register. */
struct ldrlit {
	unsigned size;		/* bytes loaded, 0 for prfm */
	bool gpr;		/* Rt is a general register the address can go through */
	uint32_t uoff;		/* ldr Rt, [Xn, #0] with Rt = Xn = 0 */
};

static const struct ldrlit ldrlits[8] = {
	{ 4, true, 0xb9400000 },	/* opc 00 V 0: ldr Wt */
	{ 4, false, 0xbd400000 },	/* opc 00 V 1: ldr St */
	{ 8, true, 0xf9400000 },	/* opc 01 V 0: ldr Xt */
	{ 8, false, 0xfd400000 },	/* opc 01 V 1: ldr Dt */
	{ 4, true, 0xb9800000 },	/* opc 10 V 0: ldrsw Xt */
	{ 16, false, 0x3dc00000 },	/* opc 10 V 1: ldr Qt */
	{ 0, false, 0xf9800000 },	/* opc 11 V 0: prfm; Rt is the prfop */
	{ 0, false, 0 },		/* opc 11 V 1: unallocated, refused in encs */
};

/* The immediate of the forms that keep one: its first bit, its width, and
 * how far left it is shifted to make a byte offset. */
struct imm {
	unsigned shift, bits, scale;
};

static const struct imm imms[] = {
	[K_B] = { 0, 26, 2 },
	[K_BL] = { 0, 26, 2 },
	[K_BCOND] = { 5, 19, 2 },
	[K_CB] = { 5, 19, 2 },
	[K_TB] = { 5, 14, 2 },
	[K_LDRLIT] = { 5, 19, 2 },
};

/* Landing pads that stay at the entry. */
static const uint32_t pads[] = {
	0xd503245f,	/* bti c (hint #34) */
	0xd503249f,	/* bti j (hint #36) */
	0xd50324df,	/* bti jc (hint #38) */
	0xd503233f,	/* paciasp (hint #25) */
	0xd503237f,	/* pacibsp (hint #27) */
};

/* Instruction words that the rewrites are built from. */
enum {
	W_B = 0x14000000,	/* b +0 */
	W_BR = 0xd61f0000,	/* br X0 */
	W_MOVZ = 0xd2800000,	/* movz X0, #0, lsl #0 */
	W_MOVK = 0xf2800000,	/* movk X0, #0, lsl #0 */
	W_MOV = 0xaa0003e0,	/* orr X0, xzr, X0 */
	W_ADR = 0x10000000,	/* adr X0, .+0 */
	W_ADRP = 0x90000000,	/* adrp X0, .+0 */
	INVERT_CB_TB = 1u << 24,	/* cbz <-> cbnz, tbz <-> tbnz */
	INVERT_COND = 1u,		/* b.eq <-> b.ne, ..., b.le <-> b.gt */
};

/* The one capstone handle, opened on first use and kept for the life of the
 * process. A capstone handle is not thread-safe, so neither is
 * arch_relocate(): callers relocate from one thread at a time. */
static csh cs;
static bool cs_open_done;

/* Returns the lazily opened aarch64 capstone handle with detail on, or 0
 * when capstone cannot be opened. */
static csh cs_handle(void)
{
	if (!cs_open_done) {
		if (cs_open(CS_ARCH_ARM64, CS_MODE_ARM, &cs) != CS_ERR_OK)
			return 0;
		cs_option(cs, CS_OPT_DETAIL, CS_OPT_ON);
		cs_open_done = true;
	}
	return cs;
}

/* Formats "insn at ADDR (entry+off): reason" (the reason alone when text is
 * NULL) into r->why; returns -1. */
__attribute__((format(printf, 5, 6)))
static int refuse(struct reloc *r, const char *text, taddr_t addr, size_t off,
		  const char *fmt, ...)
{
	int n = 0;
	va_list ap;

	if (text)
		n = snprintf(r->why, sizeof r->why, "%s at " TADDR_FMT " (entry+0x%zx): ",
			     text, TADDR_ARG(addr), off);
	if (n < 0 || (size_t)n >= sizeof r->why)
		return -1;
	va_start(ap, fmt);
	vsnprintf(r->why + n, sizeof r->why - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

/* Reads the little-endian instruction word at p. */
static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* Stores v little-endian at p. */
static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Writes what capstone made of in (or the word w, when it made nothing)
 * into text[64], cut to fit a reason in struct reloc's why. */
static void insn_text(char *text, const cs_insn *in, bool decoded, uint32_t w)
{
	if (decoded)
		snprintf(text, 64, "%.31s%s%.30s", in->mnemonic, in->op_str[0] ? " " : "",
			 in->op_str);
	else
		snprintf(text, 64, "word %08x", (unsigned)w);
}

/* Returns the encoding class of w (K_COPY with no why when no class
 * matches). */
static const struct enc *classify(uint32_t w)
{
	static const struct enc copy = { 0, 0, K_COPY, NULL };

	for (size_t i = 0; i < sizeof encs / sizeof encs[0]; i++)
		if ((w & encs[i].mask) == encs[i].value)
			return &encs[i];
	return &copy;
}

/* The ldr (literal) form of w. */
static const struct ldrlit *ldrlit_of(uint32_t w)
{
	return &ldrlits[(w >> 30) << 1 | ((w >> 26) & 1)];
}

/* Sign-extends the low bits bits of v. */
static int64_t sext(uint64_t v, unsigned bits)
{
	uint64_t m = 1ULL << (bits - 1);

	v &= (1ULL << bits) - 1;
	return (int64_t)((v ^ m) - m);
}

/* Whether the byte offset d fits immediate field f. */
static bool fits(const struct imm *f, int64_t d)
{
	int64_t lim = (int64_t)1 << (f->bits - 1 + f->scale);

	return d >= -lim && d < lim && (d & ((1 << f->scale) - 1)) == 0;
}

/* Returns w with field f set to the byte offset d (which fits). */
static uint32_t with_imm(uint32_t w, const struct imm *f, int64_t d)
{
	uint32_t m = ((1u << f->bits) - 1) << f->shift;

	return (w & ~m) | (((uint32_t)(d >> f->scale) << f->shift) & m);
}

/* Returns w (an adr or adrp) with its 21-bit immhi:immlo set to v. */
static uint32_t with_adr_imm(uint32_t w, int64_t v)
{
	uint32_t u = (uint32_t)v & 0x1fffff;

	return (w & 0x9f00001f) | (u & 3) << 29 | (u >> 2) << 5;
}

/* Returns the absolute address that w, of kind k, at pc refers to. */
static taddr_t target_of(enum kind k, uint32_t w, taddr_t pc)
{
	int64_t adr = sext((w >> 29 & 3) | (w >> 5 & 0x7ffff) << 2, 21);

	if (k == K_ADR)
		return pc + (uint64_t)adr;
	if (k == K_ADRP)
		return (pc & ~(taddr_t)0xfff) + ((uint64_t)adr << 12);
	const struct imm *f = &imms[k];
	return pc + ((uint64_t)sext(w >> f->shift, f->bits) << f->scale);
}

/* The trampoline as it is built, in words. */
struct tramp {
	taddr_t addr;		/* where code[0] will run */
	size_t n;
	uint32_t code[RELOC_MAX_INSNS * EMIT_MAX + 1];
};

/* The address the next word will run at. */
static taddr_t here(const struct tramp *t)
{
	return t->addr + INSN * t->n;
}

/* Appends w. */
static void emit(struct tramp *t, uint32_t w)
{
	t->code[t->n++] = w;
}

/* Appends movz/movk words that set Xd to v, the zero halfwords left out
 * (a user-space address takes at most three); returns how many. */
static size_t emit_mov64(struct tramp *t, unsigned d, uint64_t v)
{
	size_t n = 0;

	for (unsigned hw = 0; hw < 4; hw++) {
		uint32_t h = (uint32_t)(v >> (16 * hw)) & 0xffff;
		uint64_t above = hw < 3 ? v >> (16 * hw + 16) : 0;

		/* movz goes on the lowest halfword that is not zero (hw 0
		 * when all are), movk on the other non-zero ones. */
		if (!h && (n || above))
			continue;
		emit(t, (n ? W_MOVK : W_MOVZ) | hw << 21 | h << 5 | d);
		n++;
	}
	return n;
}

/* The number of words emit_mov64() takes for v. */
static size_t mov64_len(uint64_t v)
{
	size_t n = 0;

	for (unsigned hw = 0; hw < 4; hw++)
		n += (v >> (16 * hw) & 0xffff) != 0;
	return n ? n : 1;
}

/* The number of words emit_jump() takes from pc to target. */
static size_t jump_len(taddr_t pc, taddr_t target)
{
	return fits(&imms[K_B], (int64_t)(target - pc)) ? 1 : mov64_len(target) + 1;
}

/* Appends a jump to target: `b` when it reaches, else movz/movk x16; br x16
 * (see the header for why br only then). Returns how many words. */
static size_t emit_jump(struct tramp *t, taddr_t target)
{
	int64_t d = (int64_t)(target - here(t));

	if (fits(&imms[K_B], d)) {
		emit(t, with_imm(W_B, &imms[K_B], d));
		return 1;
	}
	size_t n = emit_mov64(t, X16, target);
	emit(t, W_BR | X16 << 5);
	return n + 1;
}

/* Appends the rewrite of w (kind k, at pc in the original) for its absolute
 * target. Sets *scratch when it uses x16 as a scratch register. */
static void rewrite(struct tramp *t, enum kind k, uint32_t w, taddr_t pc, bool *scratch)
{
	taddr_t target = target_of(k, w, pc);
	int64_t d = (int64_t)(target - here(t));
	unsigned rt = w & 0x1f;
	uint32_t inv = 0;

	*scratch = false;
	switch (k) {
	case K_ADR:
		if (d >= -(1 << 20) && d < (1 << 20)) {
			emit(t, with_adr_imm(w, d));
			return;
		}
		emit_mov64(t, rt, target);
		return;
	case K_ADRP: {
		int64_t pages = (int64_t)((target >> 12) - (here(t) >> 12));

		if (pages >= -(1 << 20) && pages < (1 << 20)) {
			emit(t, with_adr_imm(w, pages));
			return;
		}
		emit_mov64(t, rt, target);
		return;
	}
	case K_LDRLIT: {
		const struct ldrlit *l = ldrlit_of(w);
		unsigned base = l->gpr && rt != ZR ? rt : X16;

		if (fits(&imms[k], d)) {
			emit(t, with_imm(w, &imms[k], d));
			return;
		}
		*scratch = base == X16;
		emit_mov64(t, base, target);
		emit(t, l->uoff | base << 5 | rt);
		return;
	}
	case K_BL:
		emit_mov64(t, X30, pc + INSN);
		/* fall through */
	case K_B:
		*scratch = !fits(&imms[K_B], (int64_t)(target - here(t)));
		emit_jump(t, target);
		return;
	case K_BLR: {
		unsigned n = w >> 5 & 0x1f;

		*scratch = true;
		if (n != X16)
			emit(t, W_MOV | n << 16 | X16);
		emit_mov64(t, X30, pc + INSN);
		emit(t, W_BR | X16 << 5);
		return;
	}
	case K_BCOND:
		/* al (1110) and nv (1111) both mean always: there is no
		 * inverse to branch over the jump with. */
		if ((w & 0xe) == 0xe) {
			*scratch = !fits(&imms[K_B], d);
			emit_jump(t, target);
			return;
		}
		inv = INVERT_COND;
		break;
	case K_CB:
	case K_TB:
		inv = INVERT_CB_TB;
		break;
	default:
		return;
	}
	if (fits(&imms[k], d)) {
		emit(t, with_imm(w, &imms[k], d));
		return;
	}
	/* Out of reach: the inverse condition skips the jump. */
	size_t jl = jump_len(here(t) + INSN, target);

	*scratch = jl > 1;
	emit(t, with_imm(w ^ inv, &imms[k], (int64_t)(INSN * (1 + jl))));
	emit_jump(t, target);
}

/* Whether capstone says in names x16 (or w16) in any operand. */
static bool names_x16(const cs_insn *in)
{
	const cs_arm64 *a = &in->detail->arm64;

	for (unsigned i = 0; i < a->op_count; i++) {
		const cs_arm64_op *o = &a->operands[i];

		if (o->type == ARM64_OP_REG && (o->reg == ARM64_REG_X16 || o->reg == ARM64_REG_W16))
			return true;
		if (o->type == ARM64_OP_MEM && (o->mem.base == ARM64_REG_X16 ||
						o->mem.index == ARM64_REG_X16 ||
						o->mem.index == ARM64_REG_W16))
			return true;
	}
	return false;
}

/* Whether capstone puts in into a control-transfer group. */
static bool cs_transfers(const cs_insn *in)
{
	for (unsigned i = 0; i < in->detail->groups_count; i++)
		switch (in->detail->groups[i]) {
		case ARM64_GRP_JUMP:
		case ARM64_GRP_CALL:
		case ARM64_GRP_RET:
		case ARM64_GRP_INT:
		case ARM64_GRP_PRIVILEGE:
		case ARM64_GRP_BRANCH_RELATIVE:
			return true;
		}
	return false;
}

/* Looks at every word of the function for one that refers into the patch
 * window [lo, hi): a branch or adr to a place inside it other than its
 * start (it would land in the middle of the patch), or a literal load that
 * reads any of its bytes (it would read the patch). Returns 0, or -1 with
 * why. Literal pools and padding decode as something too; a word that only
 * looks like such a branch makes a harmless refusal. Indirect branches
 * cannot be seen: compilers do not aim them at the prologue. A branch to
 * the window's start lands on the patch and runs the stub again: that is a
 * new call for a tail call to the entry, and a hook that the breakpoint
 * fallback would fire the same way for a loop. */
static int scan_refs_into(csh h, cs_insn *in, const uint8_t *func, size_t func_len,
			  taddr_t func_addr, taddr_t lo, taddr_t hi, struct reloc *r)
{
	for (size_t off = 0; off + INSN <= func_len; off += INSN) {
		uint32_t w = get32(func + off);
		taddr_t pc = func_addr + off;
		enum kind k = classify(w)->kind;
		const uint8_t *p = func + off;
		size_t left = INSN;
		uint64_t a = pc;
		char text[64];

		if (k != K_ADR && k != K_B && k != K_BL && k != K_BCOND &&
		    k != K_CB && k != K_TB && k != K_LDRLIT)
			continue;
		taddr_t t = target_of(k, w, pc);
		insn_text(text, in, cs_disasm_iter(h, &p, &left, &a, in), w);
		if (k == K_LDRLIT) {
			size_t size = ldrlit_of(w)->size;

			if (size && t < hi && t + size > lo)
				return refuse(r, text, pc, off, "a literal load reads the patch "
					      "window (entry+0x%llx, %zu bytes)",
					      (unsigned long long)(lo - func_addr),
					      (size_t)(hi - lo));
			continue;
		}
		if (t > lo && t < hi)
			return refuse(r, text, pc, off, "%s entry+0x%llx, inside the patch "
				      "window (entry+0x%llx, entry+0x%llx)",
				      k == K_ADR ? "takes the address" : "branches to",
				      (unsigned long long)(t - func_addr),
				      (unsigned long long)(lo - func_addr),
				      (unsigned long long)(hi - func_addr));
	}
	return 0;
}

/* Relocates the displaced instructions into r->code; see arch.h. Returns 0
 * or -1 with r->why. */
int arch_relocate(const uint8_t *func, size_t func_len, bool whole_function,
		  taddr_t func_addr, taddr_t tramp_addr, size_t need, struct reloc *r)
{
	struct tramp t = { .addr = tramp_addr };
	size_t off = 0;
	bool x16_live = false, falls_through = true;
	cs_insn *in;
	csh h;
	int rc = -1;

	memset(r, 0, sizeof *r);
	if (need == 0)
		return refuse(r, NULL, 0, 0, "nothing to relocate (need == 0)");
	if ((func_addr | tramp_addr) % INSN)
		return refuse(r, NULL, 0, 0, "entry " TADDR_FMT " or trampoline " TADDR_FMT
			      " is not 4-byte aligned", TADDR_ARG(func_addr),
			      TADDR_ARG(tramp_addr));
	if (!(h = cs_handle()))
		return refuse(r, NULL, 0, 0, "capstone cannot open an aarch64 decoder");
	size_t skip = 0;

	if (func_len >= INSN)
		for (size_t i = 0; i < sizeof pads / sizeof pads[0]; i++)
			if (get32(func) == pads[i])
				skip = INSN;
	if (func_len < skip + need)
		return refuse(r, NULL, 0, 0, "function too short: %zu bytes after entry+0x%zx, "
			      "the patch needs %zu", func_len - skip, skip, need);
	r->skip = skip;
	if (!(in = cs_malloc(h)))
		return refuse(r, NULL, 0, 0, "capstone: out of memory");

	taddr_t start = func_addr + r->skip;

	while (off < need) {
		size_t eoff = r->skip + off;	/* from the entry, for messages */
		taddr_t pc = start + off;
		uint32_t w;
		char text[64];
		const uint8_t *p = func + eoff;
		size_t left = INSN;
		uint64_t a = pc;
		bool scratch = false;

		if (r->ninsns == RELOC_MAX_INSNS) {
			refuse(r, NULL, 0, 0, "more than %d instructions in the patch window",
			       RELOC_MAX_INSNS);
			goto out;
		}
		if (eoff + INSN > func_len) {
			refuse(r, NULL, 0, 0, "function too short: the instruction at "
			       "entry+0x%zx runs past its end (%zu bytes)", eoff, func_len);
			goto out;
		}
		w = get32(p);
		const struct enc *e = classify(w);
		bool decoded = cs_disasm_iter(h, &p, &left, &a, in);

		insn_text(text, in, decoded, w);
		if (e->why) {
			refuse(r, text, pc, eoff, "%s", e->why);
			goto out;
		}
		if (!decoded) {
			refuse(r, text, pc, eoff, "capstone cannot decode it");
			goto out;
		}
		if (e->kind == K_COPY && cs_transfers(in)) {
			/* A safety net for a control transfer the table missed. */
			refuse(r, text, pc, eoff, "a control transfer that is not modelled");
			goto out;
		}

		bool last = off + INSN >= need;
		bool leaves = e->kind == K_LEAVE || e->kind == K_B || e->kind == K_BL ||
			      e->kind == K_BLR || (e->kind == K_BCOND && (w & 0xe) == 0xe);

		/* Whatever follows an unconditional transfer is reached only by
		 * branches, and we would overwrite it without having seen them;
		 * a call would return into the overwritten window. As the last
		 * displaced instruction either is fine. */
		if (leaves && !last) {
			refuse(r, text, pc, eoff, (e->kind == K_BL || e->kind == K_BLR)
			       ? "the call would return into the patch window"
			       : "control leaves before the patch window is full; what "
				 "follows may be a branch target");
			goto out;
		}
		r->orig_off[r->ninsns] = (uint16_t)off;
		r->tramp_off[r->ninsns] = (uint16_t)(INSN * t.n);
		r->ninsns++;
		if (e->kind == K_COPY || e->kind == K_LEAVE)
			emit(&t, w);
		else
			rewrite(&t, e->kind, w, pc, &scratch);
		/* x16 is free at the entry, not after the function has set it. */
		if (scratch && x16_live) {
			refuse(r, text, pc, eoff, "its rewrite needs x16, which an earlier "
			       "displaced instruction uses");
			goto out;
		}
		x16_live = x16_live || names_x16(in);
		falls_through = !leaves;
		off += INSN;
	}
	r->displaced = off;

	/* With one displaced instruction nothing can branch into the window
	 * after its first; with more, the whole function must be seen. */
	if (r->ninsns > 1 && !whole_function) {
		refuse(r, NULL, 0, 0, "function size unknown: cannot prove no branch into "
		       "the patch window");
		goto out;
	}
	if (whole_function && scan_refs_into(h, in, func, func_len, func_addr, start,
					     start + r->displaced, r) < 0)
		goto out;

	/* The way back into the body is a direct b: a br there would land on
	 * no landing pad and fault under BTI. The region is within reach by
	 * construction; this only catches a caller that broke that. */
	if (falls_through) {
		taddr_t back = start + r->displaced;

		if (!fits(&imms[K_B], (int64_t)(back - here(&t)))) {
			refuse(r, NULL, 0, 0, "the trampoline at " TADDR_FMT " is out of b reach "
			       "(+-128 MiB) of the body at " TADDR_FMT, TADDR_ARG(tramp_addr),
			       TADDR_ARG(back));
			goto out;
		}
		emit_jump(&t, back);
	}
	if (INSN * t.n > RELOC_MAX_CODE) {
		refuse(r, NULL, 0, 0, "trampoline needs %zu bytes, a slot holds %d",
		       INSN * t.n, RELOC_MAX_CODE);
		goto out;
	}
	for (size_t i = 0; i < t.n; i++)
		put32(r->code + INSN * i, t.code[i]);
	r->code_len = INSN * t.n;
	rc = 0;
out:
	cs_free(in, 1);
	if (rc < 0) {
		/* Leave no half-built trampoline for a caller to use by mistake. */
		char why[sizeof r->why];

		memcpy(why, r->why, sizeof why);
		memset(r, 0, sizeof *r);
		memcpy(r->why, why, sizeof why);
	}
	return rc;
}
