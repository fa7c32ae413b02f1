/*
 * test_relocate: the x86-64 relocator, arch_relocate().
 *
 * Hand-written prologues cover every rewrite (RIP-relative operands, jmp/jcc
 * rel8/rel32 in and out of reach, endbr64) and every refusal. Each trampoline
 * is then decoded again with capstone, independently of the relocator's own
 * arithmetic, and checked: every RIP-relative operand and branch reaches the
 * same absolute address as the original instruction, everything else is byte
 * for byte the same, and the code ends with a branch to entry+skip+displaced.
 * The allocation functions of the installed libc are relocated the same way,
 * and finally relocated code is run: hand-written functions patched with a
 * jmp to their trampoline, and libc's own allocator called through its
 * trampolines.
 */
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <capstone/capstone.h>

#include "arch.h"

static int failures, checks;
#define CHECK(cond, ...) do { checks++; if (cond) printf("ok %d - ", checks); \
	else { failures++; printf("not ok %d - ", checks); } printf(__VA_ARGS__); printf("\n"); } while (0)
#define SKIP(...) do { checks++; printf("ok %d - # SKIP ", checks); printf(__VA_ARGS__); \
	printf("\n"); } while (0)

/* An arbitrary place for the hand-written functions: they are never run. */
#define F	((taddr_t)0x7f1200400000ULL)
#define NEAR	0x1000ULL		/* trampoline 4 KiB away */
#define FAR	0x60000000ULL		/* 1.5 GiB away: rel32 still reaches */
#define OUT	0x200000000ULL		/* 8 GiB away: nothing rel32 reaches */

static csh cs;

/* The capstone ids of the jcc pairs whose conditions negate each other. */
static const unsigned jcc_pairs[][2] = {
	{ X86_INS_JO, X86_INS_JNO }, { X86_INS_JB, X86_INS_JAE },
	{ X86_INS_JE, X86_INS_JNE }, { X86_INS_JBE, X86_INS_JA },
	{ X86_INS_JS, X86_INS_JNS }, { X86_INS_JP, X86_INS_JNP },
	{ X86_INS_JL, X86_INS_JGE }, { X86_INS_JLE, X86_INS_JG },
};

/* The capstone id of the jcc with the negated condition, or 0 if id is no jcc. */
static unsigned jcc_inverse(unsigned id)
{
	for (size_t i = 0; i < sizeof jcc_pairs / sizeof jcc_pairs[0]; i++) {
		if (jcc_pairs[i][0] == id)
			return jcc_pairs[i][1];
		if (jcc_pairs[i][1] == id)
			return jcc_pairs[i][0];
	}
	return 0;
}

/* Decodes one instruction from buf[off..len) as if at addr; returns it (the
 * caller frees it with cs_free(in, 1)) or NULL. */
static cs_insn *dec(const uint8_t *buf, size_t len, size_t off, uint64_t addr)
{
	cs_insn *in = NULL;

	if (off >= len || cs_disasm(cs, buf + off, len - off, addr, 1, &in) != 1)
		return NULL;
	return in;
}

/* Index of in's RIP-relative memory operand, or -1. */
static int rip_op(const cs_insn *in)
{
	for (int i = 0; i < in->detail->x86.op_count; i++)
		if (in->detail->x86.operands[i].type == X86_OP_MEM &&
		    in->detail->x86.operands[i].mem.base == X86_REG_RIP)
			return i;
	return -1;
}

/* The absolute address in's RIP-relative operand i refers to. */
static taddr_t rip_target(const cs_insn *in, int i)
{
	return in->address + in->size + (uint64_t)in->detail->x86.operands[i].mem.disp;
}

/* Whether in is a direct jmp or jcc (capstone's view), with *target its target. */
static bool direct_branch(const cs_insn *in, taddr_t *target)
{
	if (in->id != X86_INS_JMP && !jcc_inverse(in->id))
		return false;
	if (in->detail->x86.op_count != 1 || in->detail->x86.operands[0].type != X86_OP_IMM)
		return false;
	*target = (taddr_t)in->detail->x86.operands[0].imm;
	return true;
}

/* If the trampoline code at off is a jump, direct (e9) or absolute
 * (ff 25 00 00 00 00 <abs64>), sets *target and returns its length; else 0. */
static size_t tramp_jmp(const struct reloc *r, size_t off, taddr_t tramp, taddr_t *target)
{
	cs_insn *in = dec(r->code, r->code_len, off, tramp + off);
	size_t n = 0;
	int k;

	if (!in)
		return 0;
	if (in->id == X86_INS_JMP && direct_branch(in, target)) {
		n = in->size;
	} else if (in->id == X86_INS_JMP && (k = rip_op(in)) >= 0 &&
		   in->detail->x86.operands[k].mem.disp == 0 && off + in->size + 8 <= r->code_len) {
		memcpy(target, r->code + off + in->size, 8);
		n = in->size + 8;
	}
	cs_free(in, 1);
	return n;
}

static char err[512];

/* Records why verify() failed; returns false. */
__attribute__((format(printf, 1, 2)))
static bool bad(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, sizeof err, fmt, ap);
	va_end(ap);
	return false;
}

/* Checks the trampoline r made for func (at func_addr, to run at tramp) with
 * capstone alone; returns true, or false with err saying what is wrong. */
static bool verify(const uint8_t *func, size_t func_len, taddr_t func_addr,
		   taddr_t tramp, size_t need, const struct reloc *r)
{
	static const uint8_t endbr[4] = { 0xf3, 0x0f, 0x1e, 0xfa };
	size_t skip = func_len >= 4 && !memcmp(func, endbr, 4) ? 4 : 0;
	taddr_t start = func_addr + skip;
	size_t at = 0;

	err[0] = 0;
	if (r->skip != skip)
		return bad("skip %zu, want %zu", r->skip, skip);
	if (r->ninsns == 0 || r->ninsns > RELOC_MAX_INSNS || r->code_len > RELOC_MAX_CODE)
		return bad("ninsns %u code_len %zu", r->ninsns, r->code_len);
	if (r->displaced < need || r->orig_off[r->ninsns - 1] >= need)
		return bad("window of %zu bytes (last insn at +%u) for need %zu",
			   r->displaced, r->orig_off[r->ninsns - 1], need);
	if (skip + r->displaced > func_len)
		return bad("window runs past the function");
	for (unsigned i = 0; i < r->ninsns; i++) {
		size_t oend = i + 1 < r->ninsns ? r->orig_off[i + 1] : r->displaced;
		cs_insn *o = dec(func, func_len, skip + r->orig_off[i], start + r->orig_off[i]);
		cs_insn *t = NULL;
		taddr_t ot, tt;
		int k;
		bool ok = true;

		if (r->tramp_off[i] != at)
			ok = bad("insn %u: tramp_off %u, code so far %zu", i, r->tramp_off[i], at);
		else if (!o || r->orig_off[i] + o->size != oend)
			ok = bad("insn %u: original at +%u does not decode to %zu bytes",
				 i, r->orig_off[i], oend - r->orig_off[i]);
		else if (!(t = dec(r->code, r->code_len, at, tramp + at)))
			ok = bad("insn %u: trampoline at %zu does not decode", i, at);
		else if (direct_branch(o, &ot) && o->id == X86_INS_JMP) {
			size_t n = tramp_jmp(r, at, tramp, &tt);

			if (!n || tt != ot)
				ok = bad("insn %u: jmp to " TADDR_FMT " became %s %s", i,
					 TADDR_ARG(ot), t->mnemonic, t->op_str);
			at += n;
		} else if (direct_branch(o, &ot)) {
			taddr_t abs;
			size_t n;

			if (t->id == o->id && direct_branch(t, &tt) && tt == ot) {
				at += t->size;
			} else if (t->id == jcc_inverse(o->id) && direct_branch(t, &tt) &&
				   (n = tramp_jmp(r, at + t->size, tramp, &abs)) &&
				   tt == t->address + t->size + n && abs == ot) {
				/* the negated jcc skips exactly the absolute jmp */
				at += t->size + n;
			} else {
				ok = bad("insn %u: %s %s became %s %s", i, o->mnemonic,
					 o->op_str, t->mnemonic, t->op_str);
			}
		} else if ((k = rip_op(o)) >= 0) {
			int kt = rip_op(t);
			int first = -1, last = -1;

			/* Only the disp32 may differ: 4 bytes at most, together. */
			for (int j = 0; j < o->size && t->size == o->size; j++)
				if (o->bytes[j] != t->bytes[j]) {
					if (first < 0)
						first = j;
					last = j;
				}
			if (t->id != o->id || t->size != o->size || kt != k ||
			    rip_target(t, kt) != rip_target(o, k) || last - first >= 4)
				ok = bad("insn %u: %s %s (-> " TADDR_FMT ") became %s %s", i,
					 o->mnemonic, o->op_str, TADDR_ARG(rip_target(o, k)),
					 t->mnemonic, t->op_str);
			at += t->size;
		} else {
			if (t->size != o->size || memcmp(t->bytes, o->bytes, o->size))
				ok = bad("insn %u: %s %s not copied verbatim", i, o->mnemonic, o->op_str);
			at += t->size;
		}
		if (o)
			cs_free(o, 1);
		if (t)
			cs_free(t, 1);
		if (!ok)
			return false;
	}

	taddr_t back;
	size_t n = tramp_jmp(r, at, tramp, &back);

	if (!n || back != start + r->displaced)
		return bad("no branch back to entry+0x%zx at %zu", skip + r->displaced, at);
	if (at + n != r->code_len)
		return bad("code_len %zu, trampoline ends at %zu", r->code_len, at + n);
	return true;
}

/* A function of len bytes: the given prologue, then nops, then ret. */
struct fn {
	uint8_t b[256];
	size_t len;
};

static struct fn mkfn(const uint8_t *pro, size_t plen, size_t len)
{
	struct fn f;

	memset(f.b, 0x90, sizeof f.b);
	memcpy(f.b, pro, plen);
	f.b[len - 1] = 0xc3;
	f.len = len;
	return f;
}

#define FN(len, ...) ({ static const uint8_t p_[] = { __VA_ARGS__ }; mkfn(p_, sizeof p_, len); })

/* Relocates f (a whole function at F) for a trampoline at F+dist and checks
 * that it succeeds with the expected window and a trampoline that verifies;
 * with want_abs, that some branch needed the absolute form (longer code). */
static void good(const char *what, struct fn f, uint64_t dist, size_t need, size_t want_skip,
		 size_t want_displaced, unsigned want_ninsns)
{
	struct reloc r;
	int rc = arch_relocate(f.b, f.len, true, F, F + dist, need, &r);

	CHECK(rc == 0 && r.skip == want_skip && r.displaced == want_displaced &&
	      r.ninsns == want_ninsns && verify(f.b, f.len, F, F + dist, need, &r),
	      "%s (tramp +0x%llx, need %zu): rc %d skip %zu displaced %zu ninsns %u code %zu%s%s%s",
	      what, (unsigned long long)dist, need, rc, r.skip, r.displaced, r.ninsns,
	      r.code_len, rc ? ": " : "", rc ? r.why : "", err);
}

/* Relocates and expects a refusal whose reason contains every one of the
 * NULL-terminated strings given. */
static void refused(const char *what, const uint8_t *b, size_t len, bool whole, uint64_t dist,
		    size_t need, ...)
{
	struct reloc r;
	int rc = arch_relocate(b, len, whole, F, F + dist, need, &r);
	bool ok = rc == -1 && r.why[0] && r.code_len == 0 && r.ninsns == 0;
	va_list ap;
	const char *s;

	va_start(ap, need);
	while ((s = va_arg(ap, const char *)))
		ok = ok && strstr(r.why, s);
	va_end(ap);
	CHECK(ok, "refuses %s: rc %d \"%s\"", what, rc, r.why);
}

#define REFUSED(what, whole, dist, need, fnv, ...) \
	do { struct fn f_ = fnv; refused(what, f_.b, f_.len, whole, dist, need, __VA_ARGS__, (char *)NULL); } while (0)

/* One case of every rewrite, each at several trampoline distances. */
static void test_rewrites(void)
{
	static const uint64_t dists[] = { NEAR, FAR, -FAR };

	for (size_t d = 0; d < 3; d++) {
		uint64_t x = dists[d];

		/* glibc posix_memalign: cmpb $0x0,0x140201(%rip) */
		good("cmpb $0, disp(%rip)", FN(64, 0x80, 0x3d, 0x01, 0x02, 0x14, 0x00, 0x00,
						0x41, 0x54), x, 5, 0, 7, 1);
		good("mov disp(%rip),%rax", FN(64, 0x48, 0x8b, 0x05, 0xd6, 0x9e, 0x13, 0x00),
		     x, 5, 0, 7, 1);
		good("mov -disp(%rip),%rax", FN(64, 0x48, 0x8b, 0x05, 0x00, 0x00, 0xf0, 0xff),
		     x, 5, 0, 7, 1);
		good("lea disp(%rip),%rdi", FN(64, 0x48, 0x8d, 0x3d, 0x10, 0x20, 0x00, 0x00),
		     x, 5, 0, 7, 1);
		/* c7 05 disp32 imm32: the disp32 is not the last field */
		good("movl $imm, disp(%rip)", FN(64, 0xc7, 0x05, 0x10, 0, 0, 0, 0x78, 0x56, 0x34, 0x12),
		     x, 5, 0, 10, 1);
		/* VEX: capstone 4 reports disp_size 2 for this one */
		good("vmovdqa disp(%rip),%xmm0", FN(64, 0xc5, 0xf9, 0x6f, 0x05, 0x10, 0, 0, 0),
		     x, 5, 0, 8, 1);
		/* glibc free: test %rdi,%rdi; je +0xc5 */
		good("test %rdi,%rdi; je rel32", FN(256, 0x48, 0x85, 0xff, 0x0f, 0x84, 0xbf, 0, 0, 0),
		     x, 5, 0, 9, 2);
		good("test; je rel8", FN(64, 0x48, 0x85, 0xff, 0x74, 0x10), x, 5, 0, 5, 2);
		good("test; jne rel8 backwards", FN(64, 0x48, 0x85, 0xff, 0x75, 0x80), x, 5, 0, 5, 2);
		good("mov; jmp rel8", FN(64, 0x48, 0x89, 0xf8, 0xeb, 0x10), x, 5, 0, 5, 2);
		/* memalign's tail: jmp _mid_memalign */
		good("jmp rel32 (tail call)", FN(64, 0xe9, 0x00, 0xf0, 0xff, 0xff), x, 5, 0, 5, 1);
		good("bnd jmp rel32", FN(64, 0xf2, 0xe9, 0x00, 0x10, 0x00, 0x00), x, 5, 0, 6, 1);
		good("jmp *disp(%rip) (PLT-like)", FN(64, 0xff, 0x25, 0x10, 0x20, 0, 0), x, 5, 0, 6, 1);
		good("endbr64; push; mov", FN(64, 0xf3, 0x0f, 0x1e, 0xfa, 0x55, 0x48, 0x89, 0xe5,
					      0x48, 0x83, 0xec, 0x10), x, 5, 4, 8, 3);
		good("endbr64; cmpb $0, disp(%rip)", FN(64, 0xf3, 0x0f, 0x1e, 0xfa,
							0x80, 0x3d, 0x01, 0x02, 0x14, 0x00, 0x00), x, 5, 4, 7, 1);
		good("push; mov; sub", FN(64, 0x55, 0x48, 0x89, 0xe5, 0x48, 0x83, 0xec, 0x10),
		     x, 5, 0, 8, 3);
		/* glibc malloc: push %r12; push %rbp; push %rbx; mov %rdi,%rbx */
		good("push r12; push rbp; push rbx; mov", FN(64, 0x41, 0x54, 0x55, 0x53, 0x48, 0x89, 0xfb),
		     x, 5, 0, 7, 4);
		/* glibc reallocarray: mov %rsi,%rax; mul %rdx */
		good("mov; mul", FN(64, 0x48, 0x89, 0xf0, 0x48, 0xf7, 0xe2), x, 5, 0, 6, 2);
		good("three jcc rel8 (worst case that fits)", FN(64, 0x74, 0x10, 0x75, 0x10, 0x7c, 0x10),
		     x, 5, 0, 6, 3);
	}

	/* Out of rel32 reach: branches take the absolute form. */
	good("je rel32 out of reach (absolute jcc)",
	     FN(256, 0x48, 0x85, 0xff, 0x0f, 0x84, 0xbf, 0, 0, 0), OUT, 5, 0, 9, 2);
	good("je rel8 out of reach (absolute jcc)", FN(64, 0x48, 0x85, 0xff, 0x74, 0x10),
	     OUT, 5, 0, 5, 2);
	good("jg rel8 backwards out of reach", FN(64, 0x48, 0x85, 0xff, 0x7f, 0x80),
	     -OUT, 5, 0, 5, 2);
	good("jmp rel32 out of reach (absolute jmp)", FN(64, 0xe9, 0x00, 0xf0, 0xff, 0xff),
	     OUT, 5, 0, 5, 1);
	good("push; mov; sub out of reach (absolute branch back)",
	     FN(64, 0x55, 0x48, 0x89, 0xe5, 0x48, 0x83, 0xec, 0x10), OUT, 5, 0, 8, 3);
	good("three jcc rel8 out of reach (62 bytes)", FN(64, 0x74, 0x10, 0x75, 0x10, 0x7c, 0x10),
	     OUT, 5, 0, 6, 3);
	{
		struct reloc r;
		struct fn f = FN(64, 0x48, 0x85, 0xff, 0x74, 0x10);

		arch_relocate(f.b, f.len, true, F, F + OUT, 5, &r);
		/* 48 85 ff | 75 0e | ff 25 00 00 00 00 <F+0x15> | ff 25 ... <F+5> */
		CHECK(r.code_len == 3 + 2 + 14 + 14 && r.code[3] == 0x75 && r.code[4] == 14 &&
		      r.code[5] == 0xff && r.code[6] == 0x25 && r.tramp_off[1] == 3,
		      "absolute je is 'jne +14; jmp *0(%%rip); .quad target' (code %zu bytes)",
		      r.code_len);
	}

	/* need == 1: the breakpoint fallback displaces exactly one instruction. */
	good("need 1: test of test; je", FN(256, 0x48, 0x85, 0xff, 0x0f, 0x84, 0xbf, 0, 0, 0),
	     NEAR, 1, 0, 3, 1);
	good("need 1: cmpb $0, disp(%rip)", FN(64, 0x80, 0x3d, 0x01, 0x02, 0x14, 0x00, 0x00),
	     FAR, 1, 0, 7, 1);
	good("need 1: endbr64; push", FN(64, 0xf3, 0x0f, 0x1e, 0xfa, 0x55, 0x48, 0x89, 0xe5),
	     NEAR, 1, 4, 1, 1);
	good("need 1: je rel8 alone", FN(64, 0x74, 0x10), OUT, 1, 0, 2, 1);
	good("need 1: ret alone (control leaves only at the end)", FN(8, 0xc3), NEAR, 1, 0, 1, 1);
	{
		/* need 1 and size unknown: allowed, no branch can hit the middle of
		 * a 1-byte breakpoint. */
		struct fn f = FN(64, 0x55, 0x48, 0x89, 0xe5);
		struct reloc r;
		int rc = arch_relocate(f.b, 16, false, F, F + NEAR, 1, &r);

		CHECK(rc == 0 && r.displaced == 1 && verify(f.b, 16, F, F + NEAR, 1, &r),
		      "need 1 with the function size unknown: rc %d %s%s", rc, rc ? r.why : "", err);
	}

	/* A branch elsewhere to the window's first byte is harmless: it hits the
	 * new jmp and enters the hook again, as the original would have.
	 * endbr64; push; mov; dec %rdi; jne entry+4 */
	good("loop back to entry+skip is allowed",
	     FN(64, 0xf3, 0x0f, 0x1e, 0xfa, 0x55, 0x48, 0x89, 0xe5, 0x48, 0xff, 0xcf, 0x75, 0xf7),
	     NEAR, 5, 4, 7, 3);
	/* A branch into the window is fine when only a breakpoint goes there. */
	good("need 1 ignores branches into later window bytes",
	     FN(64, 0x55, 0x48, 0x89, 0xe5, 0x48, 0x83, 0xec, 0x10, 0x75, 0xf7),
	     NEAR, 1, 0, 1, 1);
	/* A branch just past the window is fine: jne at +0xa to +8. */
	good("branch to entry+displaced is allowed",
	     FN(64, 0x55, 0x48, 0x89, 0xe5, 0x48, 0x83, 0xec, 0x10, 0x90, 0x90, 0x75, 0xfc),
	     NEAR, 5, 0, 8, 3);
}

/* Every refusal, with the words its reason must contain. */
static void test_refusals(void)
{
	REFUSED("call rel32 in the window", true, NEAR, 5,
		FN(64, 0x55, 0xe8, 0x00, 0x01, 0x00, 0x00), "call", "entry+0x1", "return address");
	REFUSED("call *%rax in the window", true, NEAR, 5,
		FN(64, 0xff, 0xd0, 0x90, 0x90, 0x90), "call rax", "entry+0x0", "return address");
	REFUSED("call rel32 even with need 1", true, NEAR, 1,
		FN(64, 0xe8, 0x00, 0x01, 0x00, 0x00), "call", "return address");
	REFUSED("jrcxz", true, NEAR, 5, FN(64, 0xe3, 0x10, 0x90, 0x90, 0x90), "jrcxz", "rel8-only");
	REFUSED("jecxz", true, NEAR, 5, FN(64, 0x67, 0xe3, 0x10, 0x90, 0x90), "jecxz", "rel8-only");
	REFUSED("loop", true, NEAR, 5, FN(64, 0x90, 0xe2, 0x10, 0x90, 0x90), "loop", "entry+0x1",
		"rel8-only");
	REFUSED("loopne", true, NEAR, 5, FN(64, 0xe0, 0x10, 0x90, 0x90, 0x90), "loopne");
	REFUSED("xbegin", true, NEAR, 5, FN(64, 0xc7, 0xf8, 0x10, 0, 0, 0), "xbegin", "xbegin");
	REFUSED("ret inside the window", true, NEAR, 5, FN(64, 0x31, 0xc0, 0xc3, 0x90, 0x90, 0x90),
		"ret", "entry+0x2", "before the patch window is full");
	REFUSED("jmp rel8 inside the window", true, NEAR, 5, FN(64, 0xeb, 0x03, 0x90, 0x90, 0x90, 0x90),
		"jmp", "entry+0x0", "before the patch window is full");
	REFUSED("jmp *%rax inside the window", true, NEAR, 5, FN(64, 0xff, 0xe0, 0x90, 0x90, 0x90),
		"jmp rax", "before the patch window is full");
	REFUSED("int3", true, NEAR, 5, FN(64, 0xcc, 0x90, 0x90, 0x90, 0x90), "int3", "kernel");
	REFUSED("syscall", true, NEAR, 5, FN(64, 0x0f, 0x05, 0x90, 0x90, 0x90), "syscall", "kernel");
	REFUSED("ud2", true, NEAR, 5, FN(64, 0x90, 0x0f, 0x0b, 0x90, 0x90), "ud2", "entry+0x1", "traps");
	REFUSED("hlt", true, NEAR, 5, FN(64, 0xf4, 0x90, 0x90, 0x90, 0x90), "hlt", "kernel");
	REFUSED("66 e9 rel16", true, NEAR, 5, FN(64, 0x66, 0xe9, 0x10, 0x00, 0x90), "operand-size");
	/* jne at +10 back to +1, the mov inside the window (0, 8) */
	REFUSED("a branch later in the function into the window", true, NEAR, 5,
		FN(64, 0x55, 0x48, 0x89, 0xe5, 0x48, 0x83, 0xec, 0x10, 0x90, 0x90, 0x75, 0xf5),
		"jne", "entry+0xa", "branches to entry+0x1", "inside the patch window");
	/* call at +12 to +3, inside (0, 9) of test; je rel32 */
	REFUSED("a call later in the function into the window", true, NEAR, 5,
		FN(64, 0x48, 0x85, 0xff, 0x0f, 0x84, 0x30, 0, 0, 0, 0x90, 0x90, 0x90,
		   0xe8, 0xf2, 0xff, 0xff, 0xff), "call", "entry+0xc", "entry+0x3");
	/* undecodable bytes before the branch do not stop the scan */
	REFUSED("a branch into the window after undecodable bytes", true, NEAR, 5,
		FN(64, 0x55, 0x48, 0x89, 0xe5, 0x48, 0x83, 0xec, 0x10, 0x06, 0x06, 0x75, 0xf5),
		"inside the patch window");
	REFUSED("a branch into the window past endbr64", true, NEAR, 5,
		FN(64, 0xf3, 0x0f, 0x1e, 0xfa, 0x55, 0x48, 0x89, 0xe5, 0x90, 0xeb, 0xfa),
		"jmp", "entry+0x9", "branches to entry+0x5", "(entry+0x4, entry+0x9)");
	REFUSED("a branch within the window to its own middle", true, NEAR, 5,
		FN(64, 0x74, 0x01, 0x90, 0x55, 0x90), "je", "entry+0x0", "branches to entry+0x3");
	REFUSED("function size unknown with need 5", false, NEAR, 5,
		FN(64, 0x55, 0x48, 0x89, 0xe5, 0x48, 0x83, 0xec, 0x10), "function size unknown");
	REFUSED("too short function (2 bytes)", true, NEAR, 5, FN(2, 0x31), "function too short");
	REFUSED("too short after endbr64", true, NEAR, 5,
		FN(7, 0xf3, 0x0f, 0x1e, 0xfa, 0x31, 0xc0), "function too short", "after entry+0x4");
	{
		static const uint8_t b[] = { 0x48, 0x85, 0xff, 0x0f, 0x84, 0x00 };

		refused("je rel32 cut off by the function's end", b, sizeof b, true, NEAR, 5,
			"function too short", "entry+0x3", "runs past", (char *)NULL);
	}
	REFUSED("undecodable byte (06, push %es)", true, NEAR, 5, FN(64, 0x06, 0x90, 0x90, 0x90, 0x90),
		"cannot decode", "entry+0x0", "06 90");
	REFUSED("undecodable byte after a good one", true, NEAR, 5, FN(64, 0x55, 0xd6, 0x90, 0x90),
		"cannot decode", "entry+0x1", "d6");
	REFUSED("RIP-relative displacement out of reach", true, OUT, 5,
		FN(64, 0x80, 0x3d, 0x01, 0x02, 0x14, 0x00, 0x00), "cmp byte ptr [rip", "entry+0x0",
		"out of disp32 reach");
	REFUSED("RIP-relative out of reach, need 1", true, -OUT, 1,
		FN(64, 0x48, 0x8d, 0x3d, 0x10, 0x20, 0x00, 0x00), "lea", "out of disp32 reach");
	REFUSED("trampoline over RELOC_MAX_CODE (four absolute jcc)", true, OUT, 8,
		FN(64, 0x74, 0x10, 0x75, 0x10, 0x7c, 0x10, 0x7d, 0x10), "trampoline needs 78 bytes");
	{
		struct fn f = FN(64, 0);

		memset(f.b, 0x90, 40);
		refused("more than RELOC_MAX_INSNS instructions", f.b, f.len, true, NEAR, 17,
			"more than 16 instructions", (char *)NULL);
		refused("need 0", f.b, f.len, true, NEAR, 0, "need", (char *)NULL);
	}
}

/* Finds name in libc: its address and its size from the symbol table. The
 * lookup goes through libc's own handle, not RTLD_DEFAULT, so that an
 * interposed allocator (ASan, a preloaded malloc) is not taken for libc's. */
static bool libc_fn(const char *name, taddr_t *addr, size_t *size)
{
	void *libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
	void *p = dlsym(libc ? libc : RTLD_DEFAULT, name);
	const ElfW(Sym) *sym = NULL;
	Dl_info info;

	if (libc)
		dlclose(libc);
	if (!p || !dladdr1(p, &info, (void **)&sym, RTLD_DL_SYMENT) || !sym ||
	    info.dli_saddr != p || sym->st_size == 0 || !strstr(info.dli_fname, "libc.so"))
		return false;
	*addr = (taddr_t)(uintptr_t)p;
	*size = sym->st_size;
	return true;
}

static const char *const alloc_fns[] = {
	"malloc", "free", "calloc", "realloc", "posix_memalign", "aligned_alloc",
	"memalign", "valloc", "pvalloc", "reallocarray",
};

/* The prologues of the installed libc: relocations that must succeed. */
static void test_libc(void)
{
	for (size_t i = 0; i < sizeof alloc_fns / sizeof alloc_fns[0]; i++) {
		const char *name = alloc_fns[i];
		taddr_t a;
		size_t size;

		if (!libc_fn(name, &a, &size)) {
			CHECK(0, "libc %s: no address and size from dlsym/dladdr1", name);
			continue;
		}

		const uint8_t *b = (const uint8_t *)(uintptr_t)a;
		char text[128] = "";
		size_t n = 0;

		for (size_t j = 0; j < 12 && j < size; j++)
			n += snprintf(text + n, sizeof text - n, "%02x ", b[j]);
		for (size_t w = 0; w < 2; w++) {
			size_t need = w ? 1 : 5;
			struct reloc r;
			int rc = arch_relocate(b, size, true, a, a + 0x10000000, need, &r);

			CHECK(rc == 0 && verify(b, size, a, a + 0x10000000, need, &r),
			      "libc %s (%zu bytes: %s...) need %zu: rc %d skip %zu displaced %zu "
			      "ninsns %u code %zu %s%s", name, size, text, need, rc, r.skip,
			      r.displaced, r.ninsns, r.code_len, rc ? r.why : "", err);
		}
	}
}

/* Maps len bytes of RWX memory, or returns NULL. */
static uint8_t *rwx(void *hint, size_t len, int extra)
{
	void *p = mmap(hint, len, PROT_READ | PROT_WRITE | PROT_EXEC,
		       MAP_PRIVATE | MAP_ANONYMOUS | extra, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* Writes jmp rel32 from at to to; the test only uses in-reach pairs. */
static void patch_jmp(uint8_t *at, uint8_t *to)
{
	int32_t rel = (int32_t)(to - (at + 5));

	at[0] = 0xe9;
	memcpy(at + 1, &rel, 4);
}

typedef long (*fn1)(long);

/* Runs relocated code: hand-written functions whose entry is patched with a
 * jmp to their trampoline, and one trampoline far out of rel32 reach. */
static void test_exec(void)
{
	long pg = sysconf(_SC_PAGESIZE);
	uint8_t *m = rwx(NULL, 3 * pg, 0);

	if (!m) {
		SKIP("run relocated code: no RWX mapping (%s)", strerror(errno));
		return;
	}

	uint8_t *code = m, *tramp = m + pg, *data = m + 2 * pg;
	long *value = (long *)data, *flag = (long *)(data + 64);
	struct reloc r;
	int rc;

	*value = 0x1234;

	/* f1(x) = x ? value + x : &value
	 *  0: 48 85 ff           test %rdi,%rdi
	 *  3: 74 0c              je 0x11
	 *  5: 48 8b 05 <d32>     mov value(%rip),%rax
	 *  c: 48 01 f8           add %rdi,%rax
	 *  f: c3                 ret
	 * 10: 90                 nop
	 * 11: 48 8d 05 <d32>     lea value(%rip),%rax
	 * 18: c3                 ret
	 */
	static const uint8_t f1[] = {
		0x48, 0x85, 0xff, 0x74, 0x0c, 0x48, 0x8b, 0x05, 0, 0, 0, 0, 0x48, 0x01, 0xf8,
		0xc3, 0x90, 0x48, 0x8d, 0x05, 0, 0, 0, 0, 0xc3,
	};
	/* f2(x) = flag ? x + 1 : x + 2, after endbr64
	 *  0: f3 0f 1e fa        endbr64
	 *  4: 80 3d <d32> 00     cmpb $0x0,flag(%rip)
	 *  b: 74 05              je 0x12
	 *  d: 48 8d 47 01        lea 0x1(%rdi),%rax
	 * 11: c3                 ret
	 * 12: 48 8d 47 02        lea 0x2(%rdi),%rax
	 * 16: c3                 ret
	 */
	static const uint8_t f2[] = {
		0xf3, 0x0f, 0x1e, 0xfa, 0x80, 0x3d, 0, 0, 0, 0, 0x00, 0x74, 0x05,
		0x48, 0x8d, 0x47, 0x01, 0xc3, 0x48, 0x8d, 0x47, 0x02, 0xc3,
	};
	/* f3(x) = x ? x : 42, with test; jne rel32 (the shape of glibc's free)
	 *  0: 48 85 ff           test %rdi,%rdi
	 *  3: 0f 85 17 00 00 00  jne 0x20
	 *  9: b8 2a 00 00 00     mov $42,%eax
	 *  e: c3                 ret
	 *  f: 90 * 17
	 * 20: 48 89 f8           mov %rdi,%rax
	 * 23: c3                 ret
	 */
	uint8_t f3[0x24];

	memset(f3, 0x90, sizeof f3);
	memcpy(f3, (const uint8_t[]){ 0x48, 0x85, 0xff, 0x0f, 0x85, 0x17, 0, 0, 0,
				      0xb8, 0x2a, 0, 0, 0, 0xc3 }, 15);
	memcpy(f3 + 0x20, (const uint8_t[]){ 0x48, 0x89, 0xf8, 0xc3 }, 4);

	uint8_t *c1 = code, *c2 = code + 0x100, *c3 = code + 0x200;
	int32_t d;

	memcpy(c1, f1, sizeof f1);
	d = (int32_t)((uint8_t *)value - (c1 + 0x0c));
	memcpy(c1 + 0x08, &d, 4);
	d = (int32_t)((uint8_t *)value - (c1 + 0x18));
	memcpy(c1 + 0x14, &d, 4);
	memcpy(c2, f2, sizeof f2);
	d = (int32_t)((uint8_t *)flag - (c2 + 0x0b));
	memcpy(c2 + 0x06, &d, 4);
	memcpy(c3, f3, sizeof f3);

	fn1 g1 = (fn1)(uintptr_t)c1, g2 = (fn1)(uintptr_t)c2, g3 = (fn1)(uintptr_t)c3;

	CHECK(g1(5) == 0x1239 && g1(0) == (long)value && g2(5) == 7 && g3(0) == 42 && g3(7) == 7,
	      "run: the hand-written functions work unpatched");

	/* Each trampoline runs only once verify() accepts it, so that a broken
	 * relocator fails checks instead of crashing the test. */

	/* f1 through a near trampoline, entry patched. */
	rc = arch_relocate(c1, sizeof f1, true, (taddr_t)(uintptr_t)c1,
			   (taddr_t)(uintptr_t)tramp, 5, &r);
	if (rc == 0 && !verify(c1, sizeof f1, (taddr_t)(uintptr_t)c1, (taddr_t)(uintptr_t)tramp, 5, &r))
		rc = 1;
	if (rc == 0) {
		memcpy(tramp, r.code, r.code_len);
		patch_jmp(c1, tramp);
	}
	CHECK(rc == 0 && r.displaced == 5 && g1(5) == 0x1239 && g1(0) == (long)value,
	      "run: test; je rel8 relocated, patched entry: f(5)=value+5, f(0)=&value %s%s",
	      rc < 0 ? r.why : "", rc > 0 ? err : "");

	/* f2: endbr64 stays, RIP-relative cmpb moves. */
	rc = arch_relocate(c2, sizeof f2, true, (taddr_t)(uintptr_t)c2,
			   (taddr_t)(uintptr_t)(tramp + 0x100), 5, &r);
	if (rc == 0 && !verify(c2, sizeof f2, (taddr_t)(uintptr_t)c2,
			       (taddr_t)(uintptr_t)(tramp + 0x100), 5, &r))
		rc = 1;
	if (rc == 0) {
		memcpy(tramp + 0x100, r.code, r.code_len);
		patch_jmp(c2 + r.skip, tramp + 0x100);
	}
	*flag = 0;
	long a = rc == 0 ? g2(5) : 0;
	*flag = 1;
	long b = rc == 0 ? g2(5) : 0;
	CHECK(rc == 0 && r.skip == 4 && c2[0] == 0xf3 && a == 7 && b == 6,
	      "run: endbr64 kept, cmpb $0,flag(%%rip) relocated: flag 0 -> %ld, 1 -> %ld %s%s",
	      a, b, rc < 0 ? r.why : "", rc > 0 ? err : "");

	/* f3 via a trampoline more than 2 GiB away: absolute jcc and absolute
	 * branch back. The entry cannot reach it, so call the trampoline. */
	uint8_t *far = NULL;

	for (uint64_t k = 2; k < 64 && !far; k++) {
		for (int s = 1; s >= -1 && !far; s -= 2) {
			uintptr_t hint = (uintptr_t)m + (uintptr_t)(int64_t)s * (k << 32);
			uint8_t *p = rwx((void *)hint, pg, MAP_FIXED_NOREPLACE);
			intptr_t dist = (intptr_t)((uintptr_t)p - (uintptr_t)m);

			if (p && (dist > (4LL << 30) || dist < -(4LL << 30)))
				far = p;
			else if (p)
				munmap(p, pg);
		}
	}
	if (!far) {
		SKIP("run: no RWX page 4 GiB away");
	} else {
		rc = arch_relocate(c3, sizeof f3, true, (taddr_t)(uintptr_t)c3,
				   (taddr_t)(uintptr_t)far, 5, &r);
		if (rc == 0 && !verify(c3, sizeof f3, (taddr_t)(uintptr_t)c3,
				       (taddr_t)(uintptr_t)far, 5, &r))
			rc = 1;
		if (rc == 0)
			memcpy(far, r.code, r.code_len);

		fn1 t3 = (fn1)(uintptr_t)far;
		bool forms = rc == 0 && r.code_len == 3 + 16 + 14 && r.code[3] == 0x74;

		CHECK(forms && t3(0) == 42 && t3(7) == 7,
		      "run: test; jne rel32 through a trampoline %+.1f GiB away (absolute forms) %s%s",
		      (double)(intptr_t)((uintptr_t)far - (uintptr_t)m) / (1 << 30),
		      rc < 0 ? r.why : "", rc > 0 ? err : "");
		munmap(far, pg);
	}
	munmap(m, 3 * pg);
}

/* Calls libc's allocator through trampolines built for its real prologues
 * (the libc text itself is left alone). */
static void test_exec_libc(void)
{
	long pg = sysconf(_SC_PAGESIZE);
	size_t nfn = sizeof alloc_fns / sizeof alloc_fns[0];
	uint8_t *m = rwx(NULL, pg, 0);
	void *tr[2][sizeof alloc_fns / sizeof alloc_fns[0]];

	const char *preload = getenv("LD_PRELOAD");

	if (preload && strstr(preload, "vgpreload")) {
		/* valgrind replaces the allocator by redirection; libc's own
		 * malloc state is then never set up for it. */
		SKIP("run libc through trampolines: under valgrind");
		if (m)
			munmap(m, pg);
		return;
	}
	if (!m) {
		SKIP("run libc through trampolines: no RWX mapping (%s)", strerror(errno));
		return;
	}
	for (int w = 0; w < 2; w++) {
		size_t need = w ? 1 : 5;

		for (size_t i = 0; i < nfn; i++) {
			uint8_t *slot = m + (w * nfn + i) * RELOC_MAX_CODE;
			struct reloc r;
			taddr_t a;
			size_t size;

			tr[w][i] = NULL;
			if (!libc_fn(alloc_fns[i], &a, &size) ||
			    arch_relocate((const uint8_t *)(uintptr_t)a, size, true, a,
					  (taddr_t)(uintptr_t)slot, need, &r) < 0)
				continue;	/* out of reach of this mapping: skipped */
			if (!verify((const uint8_t *)(uintptr_t)a, size, a,
				    (taddr_t)(uintptr_t)slot, need, &r)) {
				CHECK(0, "run libc %s: trampoline at %p does not verify: %s",
				      alloc_fns[i], (void *)slot, err);
				continue;
			}
			memcpy(slot, r.code, r.code_len);
			/* With endbr64 the trampoline starts after it; calling it
			 * directly is still a valid entry. */
			tr[w][i] = slot;
		}
	}
	for (int w = 0; w < 2; w++) {
		void *(*t_malloc)(size_t) = tr[w][0];
		void (*t_free)(void *) = tr[w][1];
		void *(*t_calloc)(size_t, size_t) = tr[w][2];
		void *(*t_realloc)(void *, size_t) = tr[w][3];
		int (*t_posix_memalign)(void **, size_t, size_t) = tr[w][4];
		void *(*t_aligned_alloc)(size_t, size_t) = tr[w][5];
		void *(*t_memalign)(size_t, size_t) = tr[w][6];
		void *(*t_valloc)(size_t) = tr[w][7];
		void *(*t_pvalloc)(size_t) = tr[w][8];
		void *(*t_reallocarray)(void *, size_t, size_t) = tr[w][9];
		bool all = true;

		for (size_t i = 0; i < nfn; i++)
			all = all && tr[w][i];
		if (!all) {
			SKIP("run libc through trampolines (need %d): some trampoline is out "
			     "of reach", w ? 1 : 5);
			continue;
		}

		char *p = t_malloc(100);
		bool ok = p != NULL;

		if (p)
			memset(p, 'x', 100);
		p = t_realloc(p, 5000);
		ok = ok && p && p[99] == 'x';
		t_free(p);
		t_free(NULL);

		char *z = t_calloc(10, 10);
		bool zero = z;

		for (int i = 0; z && i < 100; i++)
			zero = zero && !z[i];
		t_free(z);

		void *q = NULL;
		int prc = t_posix_memalign(&q, 256, 100);
		bool aligned = prc == 0 && q && !((uintptr_t)q & 255);

		t_free(q);
		q = t_aligned_alloc(64, 128);
		aligned = aligned && q && !((uintptr_t)q & 63);
		t_free(q);
		q = t_memalign(4096, 10);
		aligned = aligned && q && !((uintptr_t)q & 4095);
		t_free(q);
		q = t_valloc(10);
		aligned = aligned && q && !((uintptr_t)q & (pg - 1));
		t_free(q);
		q = t_pvalloc(10);
		aligned = aligned && q && !((uintptr_t)q & (pg - 1));
		t_free(q);

		q = t_reallocarray(NULL, 10, 10);
		errno = 0;
		void *o = t_reallocarray(NULL, SIZE_MAX / 2, 3);
		bool ra = q && !o && errno == ENOMEM;

		/* reallocarray tail-calls realloc through the PLT, so its block
		 * belongs to whichever realloc the process uses (ASan's, say). */
		free(q);
		CHECK(ok && zero && aligned && ra,
		      "run libc through need-%d trampolines: malloc/realloc/free %d, calloc %d, "
		      "memalign family %d, reallocarray %d", w ? 1 : 5, ok, zero, aligned, ra);
	}
	munmap(m, pg);
}

int main(void)
{
	/* Line-buffered, so that the lines before a crash reach a log. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (cs_open(CS_ARCH_X86, CS_MODE_64, &cs) != CS_ERR_OK)
		return 99;
	cs_option(cs, CS_OPT_DETAIL, CS_OPT_ON);
	test_rewrites();
	test_refusals();
	test_libc();
	test_exec();
	test_exec_libc();
	cs_close(&cs);
	printf("%d/%d checks passed\n", checks - failures, checks);
	return failures ? 1 : 0;
}
