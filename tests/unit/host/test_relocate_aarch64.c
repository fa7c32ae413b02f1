/*
 * test_relocate_aarch64: the aarch64 relocator, arch_relocate(), built and
 * run on the host: it is pure data transformation, so no arm64 machine is
 * needed to check it.
 *
 * Hand-written instruction words (each checked against capstone's reading
 * of it) cover every rewrite with the trampoline near and far from the
 * function, every refusal, and the landing pads. Every trampoline is then
 * checked without trusting the relocator's arithmetic: a small emulator of
 * the instructions trampolines are made of runs the original window at its
 * address and the trampoline at its own, from the same registers (and every
 * NZCV combination), and both must leave at the same PC with the same
 * registers, loads, prefetches and copied instructions executed. Finally the
 * allocation functions of Debian's arm64 libc (libc6:arm64, read with
 * libelf) are relocated as leaktrap would and checked the same way.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <capstone/capstone.h>

#include "arch.h"

static int failures, checks;
#define CHECK(cond, ...) do { checks++; if (cond) printf("ok %d - ", checks); \
	else { failures++; printf("not ok %d - ", checks); } printf(__VA_ARGS__); printf("\n"); } while (0)

/* Where the hand-written functions pretend to be: not page-aligned, so that
 * adrp's page arithmetic differs between function and trampoline. */
#define F	((taddr_t)0x7f1200400a40ULL)
#define KiB	0x400LL
#define MiB	0x100000LL
#define GiB	0x40000000LL
#ifndef LIBC		/* -DLIBC=... to check another build, or the failure */
#define LIBC	"/usr/lib/aarch64-linux-gnu/libc.so.6"
#endif

/* Where trampolines are put, relative to the function: near, far but
 * within the region's +-128 MiB (the first NREACH), and out of reach of any
 * direct branch. From the ones close to 128 MiB, a conditional branch's
 * target can be out of reach of even a `b`, which tests the `br x16` path. */
static const int64_t deltas[] = {
	4 * KiB + 0x5c8, -(4 * KiB + 0xa38),
	100 * MiB + 0x3c8, -(100 * MiB + 0x7f0),
	127 * MiB + 0x2a0, -(127 * MiB + 0x6e0),
	128 * MiB - 0x800, -(128 * MiB - 0x800),
	4 * GiB + 0x1c8, -(4 * GiB + 0x8a0),
};
#define NDELTAS (sizeof deltas / sizeof deltas[0])
#define NREACH 8

static csh cs;

/* ---- small helpers ---- */

/* Reads the little-endian word at p. */
static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Stores v little-endian at p. */
static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Sign-extends the low bits bits of v. */
static int64_t sext(uint64_t v, unsigned bits)
{
	uint64_t m = 1ULL << (bits - 1);

	v &= (1ULL << bits) - 1;
	return (int64_t)((v ^ m) - m);
}

/* A deterministic pseudo-random sequence (xorshift64*). */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

/* Writes capstone's text for w at addr into out[128]; returns false when
 * capstone cannot decode it. */
static bool cs_text(uint32_t w, uint64_t addr, char *out)
{
	uint8_t b[4];
	cs_insn *in = NULL;

	put32(b, w);
	if (cs_disasm(cs, b, 4, addr, 1, &in) != 1) {
		snprintf(out, 128, "(undecodable %08x)", (unsigned)w);
		return false;
	}
	snprintf(out, 128, "%.31s%s%.90s", in->mnemonic, in->op_str[0] ? " " : "", in->op_str);
	cs_free(in, 1);
	return true;
}

/* Expands the assembly as written in the tables into capstone's text for
 * it at addr: ".+N"/".-N" become the absolute target of a PC-relative
 * operand, "P+N"/"P-N" the absolute page of an adrp. */
static void expand(const char *as, uint64_t addr, char *out)
{
	const char *p = strstr(as, ".+"), *q = strstr(as, ".-");
	bool page = false;

	if (!p && !q) {
		p = strstr(as, "P+");
		q = strstr(as, "P-");
		page = true;
	}
	if (!p && !q) {
		snprintf(out, 128, "%s", as);
		return;
	}
	const char *t = p ? p : q;
	long long n = strtoll(t + 2, NULL, 16);
	uint64_t base = page ? addr & ~0xfffULL : addr;
	uint64_t abs = p ? base + (uint64_t)n : base - (uint64_t)n;

	snprintf(out, 128, "%.*s#0x%llx", (int)(t - as), as, (unsigned long long)abs);
}

/* Checks that capstone reads w at addr as the assembly as (in the tables'
 * notation): the hand-written words are what their comments say. */
static void check_word(uint32_t w, uint64_t addr, const char *as)
{
	char want[128], got[128];

	expand(as, addr, want);
	cs_text(w, addr, got);
	CHECK(!strcmp(want, got), "capstone reads %08x as \"%s\" (%s)", (unsigned)w, want, got);
}

/* ---- the emulator ---- */

/* Everything an instruction sequence can do that the check compares. */
struct cpu {
	uint64_t x[31], sp, pc;
	uint8_t v[32][16];
	unsigned nzcv;			/* N Z C V in bits 3..0 */
	unsigned nops, nloads, nprf;
	uint32_t ops[32];		/* copied ("opaque") instructions executed */
	struct { uint64_t addr; unsigned size; } loads[32];
	struct { uint64_t addr; unsigned op; } prf[32];
};

/* The fake memory: every address reads as a fixed function of itself. */
static uint8_t mem_byte(uint64_t a)
{
	a ^= a >> 31;
	a *= 0xbf58476d1ce4e5b9ULL;
	a ^= a >> 29;
	return (uint8_t)a;
}

/* Reads general register n, 31 being the zero register. */
static uint64_t rx(const struct cpu *c, unsigned n)
{
	return n == 31 ? 0 : c->x[n];
}

/* Writes general register n, 31 being the zero register. */
static void wx(struct cpu *c, unsigned n, uint64_t v)
{
	if (n != 31)
		c->x[n] = v;
}

/* The load forms, as the emulator knows them. */
enum ld { LD_W, LD_X, LD_SW, LD_S, LD_D, LD_Q, LD_PRFM, LD_NONE };

/* Performs load kind k of Rt from addr, logging it. */
static void do_load(struct cpu *c, enum ld k, unsigned rt, uint64_t addr)
{
	static const unsigned sizes[] = { 4, 8, 4, 4, 8, 16, 0 };
	unsigned size = sizes[k];
	uint8_t b[16] = { 0 };
	uint64_t v = 0;

	if (k == LD_PRFM) {
		if (c->nprf < 32) {
			c->prf[c->nprf].addr = addr;
			c->prf[c->nprf++].op = rt;
		}
		return;
	}
	if (c->nloads < 32) {
		c->loads[c->nloads].addr = addr;
		c->loads[c->nloads++].size = size;
	}
	for (unsigned i = 0; i < size; i++)
		b[i] = mem_byte(addr + i);
	for (unsigned i = 0; i < 8 && i < size; i++)
		v |= (uint64_t)b[i] << (8 * i);
	switch (k) {
	case LD_W:
		wx(c, rt, v & 0xffffffffULL);
		break;
	case LD_X:
		wx(c, rt, v);
		break;
	case LD_SW:
		wx(c, rt, (uint64_t)sext(v, 32));
		break;
	default:
		memcpy(c->v[rt], b, 16);
		break;
	}
}

/* Whether condition cond holds for c's flags (the ARM ARM's ConditionHolds). */
static bool cond_holds(const struct cpu *c, unsigned cond)
{
	bool n = c->nzcv & 8, z = c->nzcv & 4, cf = c->nzcv & 2, v = c->nzcv & 1, r;

	switch (cond >> 1) {
	case 0: r = z; break;
	case 1: r = cf; break;
	case 2: r = n; break;
	case 3: r = v; break;
	case 4: r = cf && !z; break;
	case 5: r = n == v; break;
	case 6: r = n == v && !z; break;
	default: r = true; break;
	}
	return (cond & 1) && cond != 15 ? !r : r;
}

/* Executes the instruction w at c->pc: what trampolines are made of is
 * modelled, anything else is logged as executed and has no other effect. */
static void step(struct cpu *c, uint32_t w)
{
	uint64_t pc = c->pc, next = pc + 4;
	unsigned rd = w & 31, rn = (w >> 5) & 31;
	int64_t adr = sext((w >> 29 & 3) | (uint64_t)(w >> 5 & 0x7ffff) << 2, 21);

	if ((w & 0x9f000000) == 0x10000000) {			/* adr */
		wx(c, rd, pc + (uint64_t)adr);
	} else if ((w & 0x9f000000) == 0x90000000) {		/* adrp */
		wx(c, rd, (pc & ~0xfffULL) + ((uint64_t)adr << 12));
	} else if ((w & 0xff800000) == 0xd2800000) {		/* movz x */
		wx(c, rd, (uint64_t)(w >> 5 & 0xffff) << (16 * (w >> 21 & 3)));
	} else if ((w & 0xff800000) == 0xf2800000) {		/* movk x */
		unsigned sh = 16 * (w >> 21 & 3);

		wx(c, rd, (rx(c, rd) & ~(0xffffULL << sh)) | (uint64_t)(w >> 5 & 0xffff) << sh);
	} else if ((w & 0xffe0ffe0) == 0xaa0003e0) {		/* mov xd, xm */
		wx(c, rd, rx(c, w >> 16 & 31));
	} else if ((w & 0x3b000000) == 0x18000000) {		/* literal loads */
		static const enum ld lit[8] = { LD_W, LD_S, LD_X, LD_D, LD_SW, LD_Q, LD_PRFM, LD_NONE };
		enum ld k = lit[(w >> 30) << 1 | (w >> 26 & 1)];

		if (k == LD_NONE)
			goto opaque;
		do_load(c, k, rd, pc + ((uint64_t)sext(w >> 5, 19) << 2));
	} else if ((w & 0x3b000000) == 0x39000000) {		/* unsigned offset */
		unsigned size = w >> 30, vb = w >> 26 & 1, opc = w >> 22 & 3;
		enum ld k = LD_NONE;
		unsigned scale = 0;

		if (!vb && size == 2 && opc == 1) k = LD_W, scale = 4;
		else if (!vb && size == 3 && opc == 1) k = LD_X, scale = 8;
		else if (!vb && size == 2 && opc == 2) k = LD_SW, scale = 4;
		else if (!vb && size == 3 && opc == 2) k = LD_PRFM, scale = 8;
		else if (vb && size == 2 && opc == 1) k = LD_S, scale = 4;
		else if (vb && size == 3 && opc == 1) k = LD_D, scale = 8;
		else if (vb && size == 0 && opc == 3) k = LD_Q, scale = 16;
		if (k == LD_NONE)
			goto opaque;
		do_load(c, k, rd, (rn == 31 ? c->sp : c->x[rn]) + (w >> 10 & 0xfff) * scale);
	} else if ((w & 0x7c000000) == 0x14000000) {		/* b, bl */
		if (w >> 31)
			wx(c, 30, pc + 4);
		next = pc + ((uint64_t)sext(w, 26) << 2);
	} else if ((w & 0xff000010) == 0x54000000) {		/* b.cond */
		if (cond_holds(c, w & 15))
			next = pc + ((uint64_t)sext(w >> 5, 19) << 2);
	} else if ((w & 0x7e000000) == 0x34000000) {		/* cbz, cbnz */
		uint64_t v = w >> 31 ? rx(c, rd) : rx(c, rd) & 0xffffffffULL;

		if ((v == 0) != (bool)(w >> 24 & 1))
			next = pc + ((uint64_t)sext(w >> 5, 19) << 2);
	} else if ((w & 0x7e000000) == 0x36000000) {		/* tbz, tbnz */
		unsigned bit = (w >> 31) << 5 | (w >> 19 & 31);

		if (((rx(c, rd) >> bit & 1) != 0) == (bool)(w >> 24 & 1))
			next = pc + ((uint64_t)sext(w >> 5, 14) << 2);
	} else if ((w & 0xfffffc1f) == 0xd61f0000) {		/* br */
		next = rx(c, rn);
	} else if ((w & 0xfffffc1f) == 0xd63f0000) {		/* blr */
		next = rx(c, rn);
		wx(c, 30, pc + 4);
	} else if ((w & 0xfffffc1f) == 0xd65f0000) {		/* ret */
		next = rx(c, rn);
	} else {
opaque:
		if (c->nops < 32)
			c->ops[c->nops++] = w;
	}
	c->pc = next;
}

/* Runs c from its pc while it stays inside [base, base+len), fetching from
 * code; returns false when it has not left after 64 steps. */
static bool run(struct cpu *c, const uint8_t *code, taddr_t base, size_t len)
{
	for (int n = 0; n < 64; n++) {
		if (c->pc < base || c->pc >= base + len)
			return true;
		step(c, get32(code + (c->pc - base)));
	}
	return false;
}

/* Fills c with the initial state of pattern p (0, 1: random; 2: all zero;
 * 3: all ones) and flags nzcv. */
static void init_cpu(struct cpu *c, int p, unsigned nzcv, uint64_t seed)
{
	uint64_t s = seed * 0x9e3779b97f4a7c15ULL + (uint64_t)p + 1;

	memset(c, 0, sizeof *c);
	for (int i = 0; i < 31; i++)
		c->x[i] = p == 2 ? 0 : p == 3 ? ~0ULL : rnd(&s);
	for (int i = 0; i < 32; i++)
		for (int j = 0; j < 16; j++)
			c->v[i][j] = p == 2 ? 0 : p == 3 ? 0xff : (uint8_t)rnd(&s);
	c->sp = 0x7ffc12345670ULL;
	c->nzcv = nzcv;
}

static char err[512];

/* Records why a check failed; returns false. */
__attribute__((format(printf, 1, 2)))
static bool bad(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, sizeof err, fmt, ap);
	va_end(ap);
	return false;
}

/* Compares the end states of the original (a) and trampoline (b) runs. */
static bool same_end(const struct cpu *a, const struct cpu *b, const char *where)
{
	if (a->pc != b->pc)
		return bad("%s: original ends at 0x%llx, trampoline at 0x%llx", where,
			   (unsigned long long)a->pc, (unsigned long long)b->pc);
	for (int i = 0; i < 31; i++)
		if (i != 16 && i != 17 && a->x[i] != b->x[i])
			return bad("%s: x%d is 0x%llx after the original, 0x%llx after the "
				   "trampoline", where, i, (unsigned long long)a->x[i],
				   (unsigned long long)b->x[i]);
	if (a->sp != b->sp || a->nzcv != b->nzcv || memcmp(a->v, b->v, sizeof a->v))
		return bad("%s: sp, flags or a SIMD register differ", where);
	if (a->nops != b->nops || memcmp(a->ops, b->ops, a->nops * sizeof a->ops[0]))
		return bad("%s: copied instructions differ (%u vs %u executed)", where,
			   a->nops, b->nops);
	if (a->nloads != b->nloads || a->nprf != b->nprf)
		return bad("%s: %u loads %u prefetches vs %u %u", where, a->nloads, a->nprf,
			   b->nloads, b->nprf);
	for (unsigned i = 0; i < a->nloads; i++)
		if (a->loads[i].addr != b->loads[i].addr || a->loads[i].size != b->loads[i].size)
			return bad("%s: load %u from 0x%llx/%u vs 0x%llx/%u", where, i,
				   (unsigned long long)a->loads[i].addr, a->loads[i].size,
				   (unsigned long long)b->loads[i].addr, b->loads[i].size);
	for (unsigned i = 0; i < a->nprf; i++)
		if (a->prf[i].addr != b->prf[i].addr || a->prf[i].op != b->prf[i].op)
			return bad("%s: prefetch %u differs", where, i);
	return true;
}

/* Runs the original window of func (at func_addr) and r's trampoline (at
 * tramp) from each instruction boundary, from 4 register patterns times the
 * 16 NZCV combinations; returns true when they always agree, else false with
 * err. */
static bool equivalent(const uint8_t *func, taddr_t func_addr, taddr_t tramp,
		       const struct reloc *r)
{
	taddr_t start = func_addr + r->skip;
	char where[96];

	for (unsigned i = 0; i < r->ninsns; i++)
		for (int p = 0; p < 4; p++)
			for (unsigned f = 0; f < 16; f++) {
				struct cpu a, b;

				init_cpu(&a, p, f, i * 16 + f);
				b = a;
				a.pc = start + r->orig_off[i];
				b.pc = tramp + r->tramp_off[i];
				snprintf(where, sizeof where, "insn %u, pattern %d, nzcv %x", i, p, f);
				if (!run(&a, func + r->skip, start, r->displaced))
					return bad("%s: the original does not leave its window", where);
				if (!run(&b, r->code, tramp, r->code_len))
					return bad("%s: the trampoline does not leave itself", where);
				if (!same_end(&a, &b, where))
					return false;
			}
	return true;
}

/* Checks what holds for every trampoline: sizes and boundaries make sense
 * and capstone decodes every word of it. Returns true, or false with err. */
static bool well_formed(const struct reloc *r, size_t need, taddr_t tramp)
{
	char t[128];

	if (r->ninsns == 0 || r->ninsns > RELOC_MAX_INSNS || r->code_len == 0 ||
	    r->code_len > RELOC_MAX_CODE || r->code_len % 4 || r->displaced < need ||
	    r->displaced != 4 * r->ninsns)
		return bad("ninsns %u code_len %zu displaced %zu", r->ninsns, r->code_len,
			   r->displaced);
	for (unsigned i = 0; i < r->ninsns; i++)
		if (r->orig_off[i] != 4 * i || r->tramp_off[i] % 4 || r->tramp_off[i] >= r->code_len ||
		    (i && r->tramp_off[i] <= r->tramp_off[i - 1]))
			return bad("boundary %u: orig_off %u tramp_off %u", i, r->orig_off[i],
				   r->tramp_off[i]);
	for (size_t o = 0; o < r->code_len; o += 4)
		if (!cs_text(get32(r->code + o), tramp + o, t))
			return bad("trampoline word at +%zu: %s", o, t);
	return true;
}

/* Whether the trampoline holds a `br` (any register). */
static bool has_br(const struct reloc *r)
{
	for (size_t o = 0; o < r->code_len; o += 4)
		if ((get32(r->code + o) & 0xfffffc1f) == 0xd61f0000)
			return true;
	return false;
}

/* Prints the trampoline as a TAP comment. */
static void dump(const struct reloc *r, taddr_t tramp)
{
	char t[128];

	for (size_t o = 0; o < r->code_len; o += 4) {
		cs_text(get32(r->code + o), tramp + o, t);
		printf("#     +%02zu %08x %s\n", o, (unsigned)get32(r->code + o), t);
	}
}

/* ---- 1. every rewrite ---- */

enum tk { T_COPY, T_LEAVE, T_ADR, T_ADRP, T_LDR, T_B, T_BL, T_BLR, T_BCOND, T_CB, T_TB };

/* One hand-written instruction: its word, its assembly, what it is, and
 * (PC-relative ones) its byte offset (adrp: page offset) to its target. */
struct rcase {
	uint32_t w;
	const char *as;
	enum tk k;
	int64_t off;
};

static const struct rcase rcases[] = {
	{ 0x100091a0, "adr x0, .+0x1234", T_ADR, 0x1234 },
	{ 0x10800803, "adr x3, .-0xfff00", T_ADR, -0xfff00 },
	{ 0x107ffffe, "adr x30, .+0xffffc", T_ADR, 0xffffc },
	{ 0xb0091a21, "adrp x1, P+0x12345000", T_ADRP, 0x12345000 },
	{ 0xf0ffffe2, "adrp x2, P-0x1000", T_ADRP, -0x1000 },
	{ 0xf07fffe5, "adrp x5, P+0xfffff000", T_ADRP, 0xfffff000 },
	{ 0x90800007, "adrp x7, P-0x100000000", T_ADRP, -0x100000000LL },
	{ 0x18000803, "ldr w3, .+0x100", T_LDR, 0x100 },
	{ 0x58fffc04, "ldr x4, .-0x80", T_LDR, -0x80 },
	{ 0x587fffe5, "ldr x5, .+0xffffc", T_LDR, 0xffffc },
	{ 0x587ffe10, "ldr x16, .+0xfffc0", T_LDR, 0xfffc0 },
	{ 0x1800011f, "ldr wzr, .+0x20", T_LDR, 0x20 },
	{ 0x1c000206, "ldr s6, .+0x40", T_LDR, 0x40 },
	{ 0x5c800087, "ldr d7, .-0xffff0", T_LDR, -0xffff0 },
	{ 0x9c3fff88, "ldr q8, .+0x7fff0", T_LDR, 0x7fff0 },
	{ 0x98008009, "ldrsw x9, .+0x1000", T_LDR, 0x1000 },
	{ 0x9880002a, "ldrsw x10, .-0xffffc", T_LDR, -0xffffc },
	{ 0xd8001000, "prfm pldl1keep, .+0x200", T_LDR, 0x200 },
	{ 0xd8800813, "prfm pstl2strm, .-0xfff00", T_LDR, -0xfff00 },
	{ 0x14000040, "b .+0x100", T_B, 0x100 },
	{ 0x16000001, "b .-0x7fffffc", T_B, -0x7fffffc },
	{ 0x15ffffff, "b .+0x7fffffc", T_B, 0x7fffffc },
	{ 0x94001000, "bl .+0x4000", T_BL, 0x4000 },
	{ 0x96000004, "bl .-0x7fffff0", T_BL, -0x7fffff0 },
	{ 0xd63f00a0, "blr x5", T_BLR, 0 },
	{ 0xd63f0200, "blr x16", T_BLR, 0 },
	{ 0xd63f03c0, "blr x30", T_BLR, 0 },
	{ 0x54000200, "b.eq .+0x40", T_BCOND, 0x40 },
	{ 0x54800021, "b.ne .-0xffffc", T_BCOND, -0xffffc },
	{ 0x54004002, "b.hs .+0x800", T_BCOND, 0x800 },
	{ 0x54ffc003, "b.lo .-0x800", T_BCOND, -0x800 },
	{ 0x54080004, "b.mi .+0x10000", T_BCOND, 0x10000 },
	{ 0x54f80005, "b.pl .-0x10000", T_BCOND, -0x10000 },
	{ 0x54000046, "b.vs .+0x8", T_BCOND, 0x8 },
	{ 0x54ffffc7, "b.vc .-0x8", T_BCOND, -0x8 },
	{ 0x547fffe8, "b.hi .+0xffffc", T_BCOND, 0xffffc },
	{ 0x54800009, "b.ls .-0x100000", T_BCOND, -0x100000 },
	{ 0x5400800a, "b.ge .+0x1000", T_BCOND, 0x1000 },
	{ 0x54ff800b, "b.lt .-0x1000", T_BCOND, -0x1000 },
	{ 0x5410000c, "b.gt .+0x20000", T_BCOND, 0x20000 },
	{ 0x54f0000d, "b.le .-0x20000", T_BCOND, -0x20000 },
	{ 0x5401800e, "b.al .+0x3000", T_BCOND, 0x3000 },
	{ 0x54fe800f, "b.nv .-0x3000", T_BCOND, -0x3000 },
	{ 0x34000400, "cbz w0, .+0x80", T_CB, 0x80 },
	{ 0xb4800021, "cbz x1, .-0xffffc", T_CB, -0xffffc },
	{ 0x357fffe2, "cbnz w2, .+0xffffc", T_CB, 0xffffc },
	{ 0xb5fffe10, "cbnz x16, .-0x40", T_CB, -0x40 },
	{ 0x36000200, "tbz w0, #0, .+0x40", T_TB, 0x40 },
	{ 0xb6fc0001, "tbz x1, #0x3f, .-0x8000", T_TB, -0x8000 },
	{ 0x37fbffe2, "tbnz w2, #0x1f, .+0x7ffc", T_TB, 0x7ffc },
	{ 0xb7060003, "tbnz x3, #0x20, .-0x4000", T_TB, -0x4000 },
	{ 0xb643fff0, "tbz x16, #0x28, .+0x7ffc", T_TB, 0x7ffc },
	{ 0xa9bf7bfd, "stp x29, x30, [sp, #-0x10]!", T_COPY, 0 },
	{ 0x910003fd, "mov x29, sp", T_COPY, 0 },
	{ 0xd10103ff, "sub sp, sp, #0x40", T_COPY, 0 },
	{ 0xd28000a0, "movz x0, #0x5", T_COPY, 0 },
	{ 0xd65f03c0, "ret", T_LEAVE, 0 },
	{ 0xd61f0060, "br x3", T_LEAVE, 0 },
};

/* How far each kind reaches (adrp: in bytes of pages), and the bits of its
 * immediate, for recognising it re-encoded with a new offset. */
static const struct { int64_t reach; uint32_t imm; } kinds[] = {
	[T_ADR] = { 1 * MiB, 0x60ffffe0 },
	[T_ADRP] = { 4 * GiB, 0x60ffffe0 },
	[T_LDR] = { 1 * MiB, 0x00ffffe0 },
	[T_B] = { 128 * MiB, 0x03ffffff },
	[T_BL] = { 128 * MiB, 0x03ffffff },
	[T_BCOND] = { 1 * MiB, 0x00ffffe0 },
	[T_CB] = { 1 * MiB, 0x00ffffe0 },
	[T_TB] = { 32 * KiB, 0x0007ffe0 },
};

/* A filler that the scan for branches into the window finds nothing in. */
#define NOP 0xd503201fu
#define RET 0xd65f03c0u

/* Builds func = { w, nop, nop, ret } (after an optional landing pad). */
static size_t make_func(uint8_t *func, uint32_t pad, uint32_t w)
{
	size_t n = 0;

	if (pad)
		put32(func + 4 * n++, pad);
	put32(func + 4 * n++, w);
	put32(func + 4 * n++, NOP);
	put32(func + 4 * n++, NOP);
	put32(func + 4 * n++, RET);
	return 4 * n;
}

/* Whether |v| < lim. */
static bool within(int64_t v, int64_t lim)
{
	return v > -lim && v < lim;
}

/* Checks the shape of c's trampoline at tramp: a target in reach is reached
 * directly, one out of reach through movz/movk, and `br` only when no
 * direct branch reaches. Returns true, or false with err. */
static bool shape_ok(const struct rcase *c, const struct reloc *r, taddr_t tramp)
{
	const int64_t margin = 0x2000;
	uint32_t w0 = get32(r->code);
	taddr_t target = c->k == T_ADRP ? (F & ~0xfffULL) + (uint64_t)c->off : F + (uint64_t)c->off;
	int64_t dist = c->k == T_ADRP ? (int64_t)((target & ~0xfffULL) - (tramp & ~0xfffULL))
				      : (int64_t)(target - tramp);
	bool always = c->k == T_BCOND && (c->w & 0xe) == 0xe;

	switch (c->k) {
	case T_COPY:
	case T_LEAVE:
		if (w0 != c->w)
			return bad("copied as %08x", (unsigned)w0);
		if (r->code_len != (c->k == T_COPY ? 8u : 4u))
			return bad("code_len %zu for a copied instruction", r->code_len);
		return true;
	case T_BLR:
		return has_br(r) ? true : bad("blr without a br x16");
	case T_BL:
		if ((w0 & 0xff80001f) != 0xd280001e)
			return bad("bl does not start by setting x30 (%08x)", (unsigned)w0);
		break;
	default:
		if (always) {
			if (within(dist, 128 * MiB - margin) && (w0 & 0xfc000000) != 0x14000000)
				return bad("b.al/nv in reach is not a b (%08x)", (unsigned)w0);
			break;
		}
		if (within(dist, kinds[c->k].reach - margin) &&
		    ((w0 ^ c->w) & ~kinds[c->k].imm))
			return bad("in reach, but not re-encoded (%08x)", (unsigned)w0);
		if (!within(dist, kinds[c->k].reach + margin)) {
			bool cond = c->k == T_BCOND || c->k == T_CB || c->k == T_TB;
			uint32_t inv = c->k == T_BCOND ? 1 : 1u << 24;

			if (cond && ((w0 ^ inv ^ c->w) & ~kinds[c->k].imm))
				return bad("out of reach, but not the inverted branch (%08x)",
					   (unsigned)w0);
			if (!cond && c->k != T_B && (w0 & 0xff800000) != 0xd2800000)
				return bad("out of reach, but no movz (%08x)", (unsigned)w0);
		}
	}
	if (c->k == T_B || c->k == T_BL || c->k == T_BCOND || c->k == T_CB || c->k == T_TB) {
		if (within(dist, 128 * MiB - margin) && has_br(r))
			return bad("br although b reaches the target");
		if (!within(dist, 128 * MiB + margin) && !has_br(r))
			return bad("no br although b cannot reach the target");
	} else if (has_br(r)) {
		return bad("br in a trampoline that does not branch");
	}
	return true;
}

/* Whether control falls through c (so that a branch back is needed). */
static bool falls_through(const struct rcase *c)
{
	return c->k != T_B && c->k != T_BL && c->k != T_BLR && c->k != T_LEAVE &&
	       !(c->k == T_BCOND && (c->w & 0xe) == 0xe);
}

/* Relocates every hand-written case to every trampoline distance and checks
 * it: refusal exactly when the branch back cannot reach, else shape and
 * emulated equivalence. */
static void test_rewrites(void)
{
	for (size_t i = 0; i < sizeof rcases / sizeof rcases[0]; i++) {
		const struct rcase *c = &rcases[i];
		uint8_t func[32];
		size_t len = make_func(func, 0, c->w);
		int good = 0, total = 0;

		check_word(c->w, F, c->as);
		for (size_t d = 0; d < NDELTAS; d++) {
			taddr_t tramp = F + (uint64_t)deltas[d];
			struct reloc r;
			int rc = arch_relocate(func, len, true, F, tramp, 4, &r);
			bool back_far = !within(deltas[d], 128 * MiB);

			total++;
			if (falls_through(c) && back_far) {
				if (rc == -1 && strstr(r.why, "out of b reach"))
					good++;
				else
					printf("# %s, trampoline %+lld: expected the branch back to be "
					       "refused; rc %d why %s\n", c->as, (long long)deltas[d], rc, r.why);
				continue;
			}
			if (rc != 0) {
				printf("# %s, trampoline %+lld: refused: %s\n", c->as,
				       (long long)deltas[d], r.why);
				continue;
			}
			if (r.skip != 0 || r.ninsns != 1 || !well_formed(&r, 4, tramp) ||
			    !shape_ok(c, &r, tramp) || !equivalent(func, F, tramp, &r)) {
				printf("# %s, trampoline %+lld: %s\n", c->as, (long long)deltas[d], err);
				dump(&r, tramp);
				continue;
			}
			good++;
		}
		CHECK(good == total, "%s: relocated and equivalent at %d/%d trampoline distances",
		      c->as, good, total);
	}
}

/* Puts the trampoline so that each target lies exactly at the edge of its
 * kind's direct reach, on both sides: one step inside must be re-encoded,
 * one step outside must not, and both must be equivalent. */
static void test_edges(void)
{
	for (size_t i = 0; i < sizeof rcases / sizeof rcases[0]; i++) {
		const struct rcase *c = &rcases[i];
		uint8_t func[32];
		size_t len = make_func(func, 0, c->w);
		int good = 0, total = 0;

		if (c->k != T_ADR && c->k != T_LDR && c->k != T_B && c->k != T_CB &&
		    c->k != T_TB && !(c->k == T_BCOND && (c->w & 0xe) != 0xe))
			continue;
		taddr_t target = F + (uint64_t)c->off;
		int64_t reach = kinds[c->k].reach;
		const int64_t edges[4] = { reach - 4, reach, -reach, -reach - 4 };

		for (int e = 0; e < 4; e++) {
			taddr_t tramp = target - (uint64_t)edges[e];
			struct reloc r;

			/* A trampoline on top of the function itself (the cases
			 * whose own offset is at the edge) tells nothing. */
			if (within((int64_t)(tramp - F), 256))
				continue;
			total++;
			int rc = arch_relocate(func, len, true, F, tramp, 4, &r);
			bool in = edges[e] < reach && edges[e] >= -reach;
			bool re = rc == 0 && !((get32(r.code) ^ c->w) & ~kinds[c->k].imm);

			if (rc == 0 && re == in && well_formed(&r, 4, tramp) &&
			    equivalent(func, F, tramp, &r)) {
				good++;
				continue;
			}
			printf("# %s, target at %+lld from the trampoline: rc %d, %s, %s\n", c->as,
			       (long long)edges[e], rc, re ? "re-encoded" : "not re-encoded",
			       rc ? r.why : err);
			if (rc == 0)
				dump(&r, tramp);
		}
		CHECK(good == total && total >= 2, "%s: target at the edge of direct reach (%lld "
		      "bytes), %d/%d sides: direct exactly when it reaches, equivalent either way",
		      c->as, (long long)reach, good, total);
	}
}

/* ---- multi-instruction windows (need > 4) ---- */

struct mcase {
	const char *name;
	uint32_t w[8];
	size_t n;		/* words in the function */
	size_t need;
};

static const struct mcase mcases[] = {
	{ "adrp x0, P+0x1000; ldr x1, .+0x40 (need 8)",
	  { 0xb0000000 /* adrp x0, P+0x1000 */, 0x58000201 /* ldr x1, .+0x40 */, NOP, RET }, 4, 8 },
	{ "stp; mov x29, sp; cbz x0, .+0x40 (need 12)",
	  { 0xa9bf7bfd, 0x910003fd, 0xb4000200 /* cbz x0, .+0x40 */, NOP, RET }, 5, 12 },
	{ "cbz x0, .+0x100; b .+0x200 (need 8)",
	  { 0xb4000800 /* cbz x0, .+0x100 */, 0x14000080 /* b .+0x200 */, NOP, RET }, 4, 8 },
	{ "mov x16, x0; b.ne .-0xffffc (need 8)",
	  { 0xaa0003f0 /* mov x16, x0 */, 0x54800021 /* b.ne .-0xffffc */, NOP, RET }, 4, 8 },
	{ "tbnz w1, #3, .+0x10; add x0, x0, #1; bl .+0x400 (need 12)",
	  { 0x37180081 /* tbnz w1, #3, .+0x10 */, 0x91000400 /* add x0, x0, #1 */,
	    0x94000100 /* bl .+0x400 */, NOP, RET }, 5, 12 },
};

/* Relocates windows of several instructions, near and far, and checks every
 * instruction boundary with the emulator. */
static void test_multi(void)
{
	check_word(0xb0000000, F, "adrp x0, P+0x1000");
	check_word(0x58000201, F + 4, "ldr x1, .+0x40");
	check_word(0xb4000200, F + 8, "cbz x0, .+0x40");
	check_word(0xb4000800, F, "cbz x0, .+0x100");
	check_word(0x14000080, F + 4, "b .+0x200");
	check_word(0xaa0003f0, F, "mov x16, x0");
	check_word(0x54800021, F + 4, "b.ne .-0xffffc");
	check_word(0x37180081, F, "tbnz w1, #3, .+0x10");
	check_word(0x94000100, F + 8, "bl .+0x400");
	for (size_t i = 0; i < sizeof mcases / sizeof mcases[0]; i++) {
		const struct mcase *m = &mcases[i];
		uint8_t func[64];
		int good = 0, total = 0;

		for (size_t j = 0; j < m->n; j++)
			put32(func + 4 * j, m->w[j]);
		for (size_t d = 0; d < NREACH; d++) {
			taddr_t tramp = F + (uint64_t)deltas[d];
			struct reloc r;
			int rc = arch_relocate(func, 4 * m->n, true, F, tramp, m->need, &r);
			/* The b.ne, inverted at tramp+4, jumps at tramp+8. */
			taddr_t bne = F + 4 - 0xffffc;

			total++;
			/* x16 is set by the function itself: the b.ne must not
			 * need it, as it does where only br x16 reaches. */
			if (i == 3 && !within((int64_t)(bne - (tramp + 8)), 128 * MiB)) {
				if (rc == -1 && strstr(r.why, "x16"))
					good++;
				else
					printf("# %s at %+lld: expected the x16 refusal, rc %d %s\n",
					       m->name, (long long)deltas[d], rc, r.why);
				continue;
			}
			if (rc != 0 || !well_formed(&r, m->need, tramp) ||
			    r.ninsns != m->need / 4 || !equivalent(func, F, tramp, &r)) {
				printf("# %s at %+lld: rc %d %s %s\n", m->name, (long long)deltas[d],
				       rc, r.why, rc ? "" : err);
				if (!rc)
					dump(&r, tramp);
				continue;
			}
			good++;
		}
		CHECK(good == total, "%s: every boundary equivalent at %d/%d distances",
		      m->name, good, total);
	}
}

/* ---- 2. refusals ---- */

struct fcase {
	const char *name;
	uint32_t w[24];
	size_t n;		/* words in the function */
	size_t need;
	bool whole;
	int64_t delta;		/* trampoline - function */
	const char *want;	/* in r->why */
	const char *insn;	/* in r->why too, when not NULL: names the instruction */
};

static const struct fcase fcases[] = {
	{ "ldxr x1, [x0]", { 0xc85f7c01, RET }, 2, 4, true, 0x15c8,
	  "exclusive pair may never succeed", "ldxr x1, [x0] at 0x7f1200400a40 (entry+0x0)" },
	{ "ldaxr w1, [x0]", { 0x885ffc01, RET }, 2, 4, true, 0x15c8,
	  "exclusive", "ldaxr w1, [x0]" },
	{ "stlxr w3, x1, [x0]", { 0xc803fc01, RET }, 2, 4, true, 0x15c8,
	  "exclusive", "stlxr" },
	{ "ldxp x1, x2, [x0]", { 0xc87f0801, RET }, 2, 4, true, 0x15c8,
	  "exclusive", "ldxp x1, x2, [x0]" },
	{ "svc #0", { 0xd4000001, RET }, 2, 4, true, 0x15c8,
	  "kernel", "svc #0" },
	{ "brk #0x3e8", { 0xd4207d00, RET }, 2, 4, true, 0x15c8,
	  "traps with a PC in the trampoline", "brk #0x3e8" },
	{ "hlt #0", { 0xd4400000, RET }, 2, 4, true, 0x15c8, "kernel", "hlt" },
	{ "eret", { 0xd69f03e0, RET }, 2, 4, true, 0x15c8, "exception return", "eret" },
	{ "blraaz x1", { 0xd63f083f, RET }, 2, 4, true, 0x15c8, "authenticated call", NULL },
	{ "bc.eq .+0x40 (FEAT_HBC)", { 0x54000210, RET }, 2, 4, true, 0x15c8, "bc.cond", NULL },
	{ "ldr literal opc 11 V 1", { 0xdc000040, RET }, 2, 4, true, 0x15c8, "unallocated", NULL },
	{ "udf #0", { 0x00000000, RET }, 2, 4, true, 0x15c8,
	  "capstone cannot decode it", "word 00000000 at 0x7f1200400a40" },
	{ "retaa (unknown to capstone 4)", { 0xd65f0bff, RET }, 2, 4, true, 0x15c8,
	  "cannot decode", NULL },
	{ "ret before the window is full", { RET, NOP, RET }, 3, 8, true, 0x15c8,
	  "control leaves before the patch window is full", "ret at" },
	{ "b before the window is full", { 0x14000040, NOP, RET }, 3, 8, true, 0x15c8,
	  "control leaves", "b #0x7f1200400b40" },
	{ "br x3 before the window is full", { 0xd61f0060, NOP, RET }, 3, 8, true, 0x15c8,
	  "control leaves", "br x3" },
	{ "b.al before the window is full", { 0x5401800e, NOP, RET }, 3, 8, true, 0x15c8,
	  "control leaves", "b.al" },
	{ "bl before the window is full", { 0x94001000, NOP, RET }, 3, 8, true, 0x15c8,
	  "the call would return into the patch window", "bl" },
	{ "blr x5 before the window is full", { 0xd63f00a0, NOP, RET }, 3, 8, true, 0x15c8,
	  "return into the patch window", "blr x5" },
	{ "branch into the window from the body",
	  { 0xa9bf7bfd, 0x910003fd, NOP, 0x17ffffff /* b .-0x4 = entry+0x8 */, RET }, 5, 12, true,
	  0x15c8, "branches to entry+0x8, inside the patch window (entry+0x0, entry+0xc)",
	  "b #0x7f1200400a48 at 0x7f1200400a4c (entry+0xc)" },
	{ "cbz into the window from the body",
	  { 0xa9bf7bfd, 0x910003fd, NOP, 0xb4ffffe0 /* cbz x0, .-0x4 = entry+0x8 */, RET }, 5, 12,
	  true, 0x15c8, "inside the patch window", "cbz x0" },
	{ "adr of the window's middle",
	  { 0xa9bf7bfd, 0x910003fd, NOP, 0x10ffffe0 /* adr x0, .-0x4 */, RET }, 5, 12, true,
	  0x15c8, "takes the address entry+0x8", "adr x0" },
	{ "literal load from the window",
	  { 0xa9bf7bfd, NOP, 0x58ffffc1 /* ldr x1, .-0x8 = entry+0x0 */, RET }, 4, 4, true,
	  0x15c8, "a literal load reads the patch window", "ldr x1" },
	{ "a literal load of 8 bytes overlapping the window from before",
	  { 0xd503245f /* bti c */, 0xa9bf7bfd, NOP, 0x58ffffa1 /* ldr x1, .-0xc = entry+0x0 */, RET },
	  5, 4, true, 0x15c8, "reads the patch window", NULL },
	{ "size unknown, 2 instructions", { 0xa9bf7bfd, 0x910003fd, RET }, 3, 8, false, 0x15c8,
	  "function size unknown", NULL },
	{ "x16 set by the window, needed by a rewrite",
	  { 0xaa0003f0 /* mov x16, x0 */, 0x1c000200 /* ldr s0, .+0x40 */, RET }, 3, 8, true,
	  -(100 * MiB), "needs x16, which an earlier displaced instruction uses", "ldr s0" },
	{ "trampoline over 64 bytes: 6 far adr",
	  { 0x10780000, 0x10780001, 0x10780002, 0x10780003, 0x10780004, 0x10780005, RET },
	  7, 24, true, -(100 * MiB), "trampoline needs 76 bytes, a slot holds 64", NULL },
	{ "more than 16 instructions",
	  { NOP, NOP, NOP, NOP, NOP, NOP, NOP, NOP, NOP, NOP, NOP, NOP, NOP, NOP, NOP, NOP,
	    NOP, NOP, RET }, 19, 68, true, 0x15c8, "more than 16 instructions", NULL },
	{ "branch back out of reach (4 GiB)", { 0xa9bf7bfd, RET }, 2, 4, true, 4 * GiB,
	  "out of b reach (+-128 MiB) of the body at 0x7f1200400a44", NULL },
	{ "need 0", { NOP, RET }, 2, 0, true, 0x15c8, "need == 0", NULL },
	{ "function too short", { NOP }, 1, 8, true, 0x15c8, "function too short", NULL },
	{ "paciasp and nothing else", { 0xd503233f }, 1, 4, true, 0x15c8,
	  "function too short: 0 bytes after entry+0x4", NULL },
	{ "misaligned trampoline", { NOP, RET }, 2, 4, true, 0x15ca, "not 4-byte aligned", NULL },
};

/* Checks that each refusal happens, says why, names the instruction, and
 * leaves no trampoline behind. */
static void test_refusals(void)
{
	check_word(0x10780000, F, "adr x0, .+0xf0000");
	check_word(0x17ffffff, F + 12, "b .-0x4");
	check_word(0xb4ffffe0, F + 12, "cbz x0, .-0x4");
	check_word(0x10ffffe0, F + 12, "adr x0, .-0x4");
	check_word(0x58ffffc1, F + 8, "ldr x1, .-0x8");
	check_word(0xc87f0801, F, "ldxp x1, x2, [x0]");
	check_word(0x58ffffa1, F + 12, "ldr x1, .-0xc");
	check_word(0x1c000200, F + 4, "ldr s0, .+0x40");
	check_word(0xc85f7c01, F, "ldxr x1, [x0]");
	check_word(0x885ffc01, F, "ldaxr w1, [x0]");
	check_word(0xc803fc01, F, "stlxr w3, x1, [x0]");
	check_word(0xd4000001, F, "svc #0");
	check_word(0xd4207d00, F, "brk #0x3e8");
	check_word(0xd4400000, F, "hlt #0");
	check_word(0xd69f03e0, F, "eret");
	for (size_t i = 0; i < sizeof fcases / sizeof fcases[0]; i++) {
		const struct fcase *c = &fcases[i];
		uint8_t func[128];
		struct reloc r;

		for (size_t j = 0; j < c->n; j++)
			put32(func + 4 * j, c->w[j]);
		memset(&r, 0xa5, sizeof r);
		int rc = arch_relocate(func, 4 * c->n, c->whole, F, F + (uint64_t)c->delta,
				       c->need, &r);
		bool clean = r.code_len == 0 && r.ninsns == 0 && r.displaced == 0 && r.skip == 0;

		CHECK(rc == -1 && strstr(r.why, c->want) && (!c->insn || strstr(r.why, c->insn)) &&
		      clean, "refused: %s (why: %s)", c->name, rc ? r.why : "(accepted)");
	}
}

/* ---- 3. landing pads ---- */

struct pcase {
	const char *name;
	uint32_t w[4];
	size_t skip;
};

static const struct pcase pcases[] = {
	{ "bti c; stp", { 0xd503245f, 0xa9bf7bfd, NOP, RET }, 4 },
	{ "bti j; stp", { 0xd503249f, 0xa9bf7bfd, NOP, RET }, 4 },
	{ "bti jc; stp", { 0xd50324df, 0xa9bf7bfd, NOP, RET }, 4 },
	{ "paciasp; stp", { 0xd503233f, 0xa9bf7bfd, NOP, RET }, 4 },
	{ "pacibsp; stp", { 0xd503237f, 0xa9bf7bfd, NOP, RET }, 4 },
	/* Only the landing pad stays: paciasp after it signs the return
	 * address in the trampoline (see relocate.c). */
	{ "bti c; paciasp; stp", { 0xd503245f, 0xd503233f, 0xa9bf7bfd, RET }, 4 },
	{ "bti c; adrp x1, P+0x12345000", { 0xd503245f, 0xb0091a21, NOP, RET }, 4 },
	{ "paciasp; cbz x0, .+0x80", { 0xd503233f, 0xb4000400, NOP, RET }, 4 },
	/* bti with no target accepts no indirect branch: no landing pad. */
	{ "bti; stp", { 0xd503241f, 0xa9bf7bfd, NOP, RET }, 0 },
	{ "nop; stp", { NOP, 0xa9bf7bfd, NOP, RET }, 0 },
};

/* Checks that the landing pads stay at the entry and the patch goes after
 * them, with the trampoline equivalent to the instruction after them. */
static void test_pads(void)
{
	check_word(0xd503245f, F, "hint #0x22");	/* bti c */
	check_word(0xd503249f, F, "hint #0x24");	/* bti j */
	check_word(0xd50324df, F, "hint #0x26");	/* bti jc */
	check_word(0xd503233f, F, "hint #0x19");	/* paciasp */
	check_word(0xd503237f, F, "hint #0x1b");	/* pacibsp */
	check_word(0xd503241f, F, "hint #0x20");	/* bti */
	check_word(0xb0091a21, F + 4, "adrp x1, P+0x12345000");
	check_word(0xb4000400, F + 4, "cbz x0, .+0x80");
	for (size_t i = 0; i < sizeof pcases / sizeof pcases[0]; i++) {
		const struct pcase *c = &pcases[i];
		uint8_t func[16];
		int good = 0;

		for (size_t j = 0; j < 4; j++)
			put32(func + 4 * j, c->w[j]);
		for (size_t d = 0; d < NREACH; d++) {
			taddr_t tramp = F + (uint64_t)deltas[d];
			struct reloc r;
			int rc = arch_relocate(func, sizeof func, true, F, tramp, 4, &r);

			if (rc == 0 && r.skip == c->skip && r.displaced == 4 &&
			    well_formed(&r, 4, tramp) && equivalent(func, F, tramp, &r))
				good++;
			else
				printf("# %s at %+lld: rc %d skip %zu %s\n", c->name,
				       (long long)deltas[d], rc, r.skip, rc ? r.why : err);
		}
		CHECK(good == NREACH, "%s: skip %zu, patch at entry+%zu, equivalent at %d/%d "
		      "distances", c->name, c->skip, c->skip, good, NREACH);
	}

	/* A function that is one ret: nothing follows it, so no branch back
	 * (it would lead to whatever lies after the function). */
	uint8_t ret[4];
	struct reloc r;

	put32(ret, RET);
	int rc = arch_relocate(ret, 4, true, F, F + 0x15c8, 4, &r);
	CHECK(rc == 0 && r.code_len == 4 && get32(r.code) == RET &&
	      equivalent(ret, F, F + 0x15c8, &r),
	      "a lone ret is relocated as itself, with no branch back (rc %d, %zu bytes)",
	      rc, r.code_len);
	rc = arch_relocate(ret, 4, true, F, F + 4 * GiB, 4, &r);
	CHECK(rc == 0 && r.code_len == 4, "... also with the trampoline 4 GiB away");
	rc = arch_relocate(ret, 4, false, F, F + 0x15c8, 4, &r);
	CHECK(rc == 0, "one displaced instruction needs no function size (rc %d %s)",
	      rc, rc ? r.why : "");
}

/* ---- 5. Debian's arm64 libc ---- */

static const char *const allocs[] = {
	"malloc", "free", "calloc", "realloc", "reallocarray", "posix_memalign",
	"aligned_alloc", "memalign", "valloc", "pvalloc",
};
#define NALLOCS (sizeof allocs / sizeof allocs[0])

/* A function found in the libc file. */
struct fn {
	uint64_t value, size;
	const uint8_t *bytes;	/* into the mapped file */
	bool found, dflt;
};

/* Finds the allocation functions in the .dynsym of the ELF image at e
 * (preferring each name's default version) and their bytes in the file
 * image raw; returns how many it found. */
static size_t find_allocs(Elf *e, const uint8_t *raw, size_t raw_len, struct fn *fns)
{
	Elf_Scn *scn = NULL, *dynsym = NULL, *versym = NULL;
	GElf_Shdr sh, dsh;
	size_t found = 0, nph;

	while ((scn = elf_nextscn(e, scn))) {
		if (!gelf_getshdr(scn, &sh))
			continue;
		if (sh.sh_type == SHT_DYNSYM)
			dynsym = scn;
		else if (sh.sh_type == SHT_GNU_versym)
			versym = scn;
	}
	if (!dynsym || !gelf_getshdr(dynsym, &dsh) || elf_getphdrnum(e, &nph))
		return 0;
	Elf_Data *syms = elf_getdata(dynsym, NULL);
	Elf_Data *vers = versym ? elf_getdata(versym, NULL) : NULL;
	size_t n = dsh.sh_entsize ? dsh.sh_size / dsh.sh_entsize : 0;

	for (size_t i = 0; i < n; i++) {
		GElf_Sym s;
		GElf_Versym v = 0;

		if (!gelf_getsym(syms, (int)i, &s) || GELF_ST_TYPE(s.st_info) != STT_FUNC ||
		    s.st_shndx == SHN_UNDEF || !s.st_size)
			continue;
		if (vers)
			gelf_getversym(vers, (int)i, &v);
		const char *name = elf_strptr(e, dsh.sh_link, s.st_name);
		bool dflt = !(v & 0x8000);	/* VERSYM_HIDDEN: not the default */

		for (size_t k = 0; name && k < NALLOCS; k++) {
			if (strcmp(name, allocs[k]) || (fns[k].found && (fns[k].dflt || !dflt)))
				continue;
			/* vaddr -> file offset through the PT_LOAD that holds it */
			for (size_t p = 0; p < nph; p++) {
				GElf_Phdr ph;

				if (!gelf_getphdr(e, (int)p, &ph) || ph.p_type != PT_LOAD ||
				    s.st_value < ph.p_vaddr ||
				    s.st_value + s.st_size > ph.p_vaddr + ph.p_filesz)
					continue;
				uint64_t off = s.st_value - ph.p_vaddr + ph.p_offset;

				if (off + s.st_size > raw_len)
					continue;
				found += !fns[k].found;
				fns[k] = (struct fn){ s.st_value, s.st_size, raw + off, true, dflt };
				break;
			}
		}
	}
	return found;
}

/* Relocates libc's allocation functions as leaktrap does (whole function,
 * need 4) near and far, and checks each with the emulator. */
static void test_libc(void)
{
	/* Where libc pretends to be loaded. */
	const taddr_t base = 0x7f8a12340000ULL;
	int fd = open(LIBC, O_RDONLY);

	if (fd < 0) {
		CHECK(false, "%s: %s: install libc6:arm64 with scripts/deps.sh", LIBC,
		      strerror(errno));
		return;
	}
	elf_version(EV_CURRENT);
	Elf *e = elf_begin(fd, ELF_C_READ, NULL);
	size_t raw_len = 0;
	const uint8_t *raw = e ? (const uint8_t *)elf_rawfile(e, &raw_len) : NULL;
	GElf_Ehdr eh;
	struct fn fns[NALLOCS] = { { 0 } };
	size_t found = raw && gelf_getehdr(e, &eh) && eh.e_machine == EM_AARCH64
		       ? find_allocs(e, raw, raw_len, fns) : 0;

	CHECK(found == NALLOCS, "%s: found %zu of the %zu allocation functions in .dynsym "
	      "(run scripts/deps.sh if the file is not an arm64 libc)", LIBC, found, NALLOCS);
	for (size_t k = 0; k < NALLOCS; k++) {
		const struct fn *f = &fns[k];
		taddr_t fa = base + f->value;
		char t[128];
		int good = 0;

		if (!f->found)
			continue;
		cs_text(get32(f->bytes), fa, t);
		for (size_t d = 0; d < NDELTAS; d++) {
			taddr_t tramp = fa + (uint64_t)deltas[d];
			struct reloc r;
			int rc = arch_relocate(f->bytes, f->size, true, fa, tramp, 4, &r);

			/* Out of b reach, only a window that does not fall through
			 * (none of these) could do without the branch back. */
			if (!within(deltas[d], 128 * MiB)) {
				if (rc == -1 && strstr(r.why, "out of b reach"))
					good++;
				else
					printf("# %s at %+lld: expected the branch-back refusal: %s\n",
					       allocs[k], (long long)deltas[d], rc ? r.why : "accepted");
				continue;
			}
			if (rc == 0 && well_formed(&r, 4, tramp) && equivalent(f->bytes, fa, tramp, &r)) {
				good++;
				if (d == 0 || d == 3) {
					printf("# %s (0x%llx, %llu bytes): skip %zu, displaced %zu (%s), "
					       "trampoline %+lld:\n", allocs[k],
					       (unsigned long long)f->value, (unsigned long long)f->size,
					       r.skip, r.displaced, t, (long long)deltas[d]);
					dump(&r, tramp);
				}
			} else {
				printf("# %s at %+lld: rc %d %s\n", allocs[k], (long long)deltas[d],
				       rc, rc ? r.why : err);
			}
		}
		CHECK(good == (int)NDELTAS, "libc %s%s: relocated and equivalent at %d/%zu "
		      "trampoline distances (the 4 GiB ones refused for the branch back)",
		      allocs[k], f->dflt ? "" : " (non-default version)", good, NDELTAS);
	}
	elf_end(e);
	close(fd);
}

int main(void)
{
	if (cs_open(CS_ARCH_ARM64, CS_MODE_ARM, &cs) != CS_ERR_OK) {
		printf("not ok 1 - capstone cannot open an aarch64 decoder\n");
		return 99;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	test_rewrites();
	test_edges();
	test_multi();
	test_refusals();
	test_pads();
	test_libc();
	cs_close(&cs);
	printf("1..%d\n# %d passed, %d failed\n", checks, checks - failures, failures);
	return failures ? 1 : 0;
}
