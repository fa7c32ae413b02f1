/*
 * x86-64 relocator: moves the instructions at the start of a function into a
 * trampoline so that a 5-byte `jmp rel32` (or a 1-byte int3) can take their
 * place. Anything it cannot prove correct is refused with a reason; the caller
 * then falls back to the breakpoint or leaves the function alone.
 *
 * The trampoline is:
 *	displaced instructions, each either copied byte for byte, copied with a
 *	new RIP-relative disp32, or (jmp/jcc) re-emitted for its absolute target
 *	jmp back to entry+skip+displaced
 *
 * capstone 4.0.2 decodes; where its detail is known to be unreliable (the
 * disp_size of VEX/EVEX and 0f 38/0f 3a instructions reads 2 instead of 4)
 * the encoding is read from the instruction bytes and checked against it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <capstone/capstone.h>

#include "arch.h"

/* f3 0f 1e fa: the CET landing pad. An indirect call must land on it, so it
 * stays at the entry and the patch goes after it. */
static const uint8_t endbr64[4] = { 0xf3, 0x0f, 0x1e, 0xfa };

/* Lengths of what the trampoline is built from. */
enum {
	JMP_REL32_LEN = 5,	/* e9 rel32 */
	JCC_REL32_LEN = 6,	/* 0f 8<cc> rel32 */
	JMP_ABS_LEN = 14,	/* ff 25 00 00 00 00 <abs64>: jmp *0(%rip) */
	JCC_ABS_LEN = 2 + JMP_ABS_LEN,	/* 7<cc^1> 0e, then JMP_ABS */
	INSN_MAX = 15,		/* the architectural limit */
	/* The most one displaced instruction can grow to: JCC_ABS_LEN. */
	EMIT_MAX = JCC_ABS_LEN,
};

/* The one capstone handle, opened on first use and kept for the life of the
 * process. A capstone handle is not thread-safe, so neither is
 * arch_relocate(): callers relocate from one thread at a time. */
static csh cs;
static bool cs_open_done;

/* Formats "insn at entry+off: reason" (or the reason alone when in is NULL)
 * into r->why; returns -1. */
__attribute__((format(printf, 4, 5)))
static int refuse(struct reloc *r, const cs_insn *in, size_t off, const char *fmt, ...)
{
	int n = 0;
	va_list ap;

	if (in)
		n = snprintf(r->why, sizeof r->why, "%s%s%s at entry+0x%zx: ",
			     in->mnemonic, in->op_str[0] ? " " : "", in->op_str, off);
	if (n < 0 || (size_t)n >= sizeof r->why)
		return -1;
	va_start(ap, fmt);
	vsnprintf(r->why + n, sizeof r->why - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

/* Returns the lazily opened x86-64 capstone handle with detail on, or 0 when
 * capstone cannot be opened. */
static csh cs_handle(void)
{
	if (!cs_open_done) {
		if (cs_open(CS_ARCH_X86, CS_MODE_64, &cs) != CS_ERR_OK)
			return 0;
		cs_option(cs, CS_OPT_DETAIL, CS_OPT_ON);
		cs_open_done = true;
	}
	return cs;
}

/* Whether v fits a signed 32-bit displacement. */
static bool fits_rel32(int64_t v)
{
	return v >= INT32_MIN && v <= INT32_MAX;
}

/* Stores v little-endian at p. */
static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Stores v little-endian at p. */
static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Reads a little-endian signed 32-bit value at p. */
static int32_t get32(const uint8_t *p)
{
	return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 |
			 (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
}

/* Emits, at code+at (which will run at pc), a jump to target: e9 rel32 when it
 * reaches, else ff 25 00 00 00 00 <abs64>, an indirect jmp through the
 * quadword that follows it, which clobbers no register. Returns its length. */
static size_t emit_jmp(uint8_t *code, size_t at, taddr_t pc, taddr_t target)
{
	int64_t rel = (int64_t)(target - (pc + JMP_REL32_LEN));

	if (fits_rel32(rel)) {
		code[at] = 0xe9;
		put32(code + at + 1, (uint32_t)rel);
		return JMP_REL32_LEN;
	}
	code[at] = 0xff;
	code[at + 1] = 0x25;
	put32(code + at + 2, 0);
	put64(code + at + 6, target);
	return JMP_ABS_LEN;
}

/* Emits, at code+at (which will run at pc), a conditional jump with condition
 * code cc (the low nibble of 7x / 0f 8x) to target: 0f 8<cc> rel32 when it
 * reaches, else 7<cc^1> 0e over an absolute jmp (flipping bit 0 of a
 * condition code negates it). Returns its length. */
static size_t emit_jcc(uint8_t *code, size_t at, taddr_t pc, unsigned cc, taddr_t target)
{
	int64_t rel = (int64_t)(target - (pc + JCC_REL32_LEN));

	if (fits_rel32(rel)) {
		code[at] = 0x0f;
		code[at + 1] = (uint8_t)(0x80 | cc);
		put32(code + at + 2, (uint32_t)rel);
		return JCC_REL32_LEN;
	}
	code[at] = (uint8_t)(0x70 | (cc ^ 1));
	code[at + 1] = JMP_ABS_LEN;
	return 2 + emit_jmp(code, at + 2, pc + 2, target);
}

/* Whether capstone put in into group g. */
static bool in_group(const cs_insn *in, uint8_t g)
{
	for (unsigned i = 0; i < in->detail->groups_count; i++)
		if (in->detail->groups[i] == g)
			return true;
	return false;
}

/* Decodes the instruction at func[off] (address func_addr+off) into in;
 * returns 0, or -1 with why: past the end of the function, or undecodable. */
static int decode_at(csh h, const uint8_t *func, size_t func_len, taddr_t func_addr,
		     size_t off, cs_insn *in, struct reloc *r)
{
	const uint8_t *p = func + off;
	size_t n = func_len - off;
	uint64_t a = func_addr + off;
	uint8_t pad[INSN_MAX + 1] = { 0 };

	if (cs_disasm_iter(h, &p, &n, &a, in))
		return 0;
	/* capstone refuses an instruction cut off by the end of the buffer the
	 * same way as garbage; decoding a zero-padded copy tells them apart. */
	if (func_len - off < sizeof pad) {
		memcpy(pad, func + off, func_len - off);
		p = pad;
		n = sizeof pad;
		a = func_addr + off;
		if (cs_disasm_iter(h, &p, &n, &a, in) && in->size > func_len - off)
			return refuse(r, NULL, 0, "function too short: the instruction at "
				      "entry+0x%zx runs past its end (%zu bytes)", off, func_len);
	}
	return refuse(r, NULL, 0, "cannot decode the bytes at entry+0x%zx "
		      "(%02x %02x %02x %02x ...)", off, func[off],
		      off + 1 < func_len ? func[off + 1] : 0,
		      off + 2 < func_len ? func[off + 2] : 0,
		      off + 3 < func_len ? func[off + 3] : 0);
}

/* Refuses the instruction classes that cannot run from a trampoline; returns
 * 0 when in may be relocated, else -1 with why. off is from the entry. */
static int check_class(const cs_insn *in, size_t off, struct reloc *r)
{
	switch (in->id) {
	case X86_INS_JRCXZ:
	case X86_INS_JECXZ:
	case X86_INS_JCXZ:
	case X86_INS_LOOP:
	case X86_INS_LOOPE:
	case X86_INS_LOOPNE:
		/* e3 cb / e2 e1 e0 cb: rel8 only, with no rel32 twin, and
		 * emulating them would need a scratch register. */
		return refuse(r, in, off, "rel8-only branch (loop/jrcxz family) cannot "
			      "be re-emitted for its target");
	case X86_INS_XBEGIN:
		/* c7 f8 rel32: the abort path restarts at a PC-relative address
		 * with the registers of the start of the transaction; an abort
		 * between trampoline and body is not modelled. */
		return refuse(r, in, off, "transactional abort path (xbegin) is not modelled");
	case X86_INS_UD0:
	case X86_INS_UD2:
	case X86_INS_UD2B:
		/* 0f 0b, 0f ff, 0f b9: deliberate crashes (BUG(), __builtin_trap);
		 * the fault address would point into the trampoline. */
		return refuse(r, in, off, "traps by design: the fault PC would lie "
			      "in the trampoline");
	case X86_INS_LJMP:
	case X86_INS_LCALL:
	case X86_INS_RETF:
	case X86_INS_RETFQ:
		return refuse(r, in, off, "far control transfer is not modelled");
	}
	if (in_group(in, X86_GRP_CALL))
		/* e8 rel32 / ff /2: the pushed return address would point into
		 * the trampoline, which is unmapped at detach while the callee
		 * may still be running. */
		return refuse(r, in, off, "a call would leave a return address in the "
			      "trampoline, which is unmapped at detach");
	if (in_group(in, X86_GRP_INT) || in_group(in, X86_GRP_IRET) ||
	    in_group(in, X86_GRP_PRIVILEGE))
		/* cc, cd ib, f1, 0f 05 (syscall writes RIP to rcx), 0f 34, hlt,
		 * iret, sysret: the kernel sees a PC in the trampoline, in a
		 * signal frame or a restarted system call. */
		return refuse(r, in, off, "traps or enters the kernel with a PC in "
			      "the trampoline");
	return 0;
}

/* If in is a near jmp rel8/rel32 or jcc rel8/rel32, sets *cc (the condition
 * code, or -1 for jmp) and *target and returns 1; returns 0 when it is not
 * one, or -1 with why for a form that is not modelled. off is from the entry. */
static int rel_branch(const cs_insn *in, size_t off, int *cc, taddr_t *target, struct reloc *r)
{
	const uint8_t *op = in->detail->x86.opcode;
	size_t rel_len;

	if (op[0] == 0xeb || (op[0] >= 0x70 && op[0] <= 0x7f))
		rel_len = 1;
	else if (op[0] == 0xe9 || (op[0] == 0x0f && op[1] >= 0x80 && op[1] <= 0x8f))
		rel_len = 4;
	else
		return 0;
	if (in->id != X86_INS_JMP && !in_group(in, X86_GRP_JUMP))
		return refuse(r, in, off, "opcode of a relative branch that capstone "
			      "does not call one");
	/* 66 e9 rel16: the operand-size prefix truncates RIP to 16 bits on
	 * AMD and is ignored on Intel; nobody emits it on purpose. */
	if (in->detail->x86.prefix[2] == 0x66)
		return refuse(r, in, off, "relative branch with an operand-size "
			      "prefix is not modelled");
	/* The displacement is the last field of every one of these forms;
	 * prefixes (bnd f2, hint 2e/3e, rex) come before the opcode and are
	 * dropped on re-emission. */
	int64_t rel = rel_len == 1 ? (int8_t)in->bytes[in->size - 1]
				   : get32(in->bytes + in->size - 4);
	*target = in->address + in->size + (uint64_t)rel;
	if (op[0] == 0xeb || op[0] == 0xe9)
		*cc = -1;
	else
		*cc = (op[0] == 0x0f ? op[1] : op[0]) & 0x0f;
	return 1;
}

/* Copies in to code+at (where it will run at pc), rewriting its disp32 if it
 * has a RIP-relative memory operand so that it addresses the same target.
 * Returns its length, or -1 with why. off is from the entry. */
static int copy_insn(const cs_insn *in, size_t off, uint8_t *code, size_t at,
		     taddr_t pc, struct reloc *r)
{
	const cs_x86 *x = &in->detail->x86;
	const cs_x86_op *rip_op = NULL;
	size_t mo = x->encoding.modrm_offset;
	/* ModRM mod=00 rm=101 (the byte & c7 == 05) is RIP+disp32 in 64-bit
	 * mode whatever REX.B says; there is no SIB, so disp32 follows it. */
	bool modrm_rip = mo > 0 && mo < in->size && (in->bytes[mo] & 0xc7) == 0x05;

	for (unsigned i = 0; i < x->op_count; i++)
		if (x->operands[i].type == X86_OP_MEM && x->operands[i].mem.base == X86_REG_RIP)
			rip_op = &x->operands[i];
	memcpy(code + at, in->bytes, in->size);
	if (!rip_op && !modrm_rip)
		return in->size;
	if (!rip_op || !modrm_rip || mo + 1 + 4 > in->size ||
	    get32(in->bytes + mo + 1) != rip_op->mem.disp)
		/* A RIP-relative operand we would copy unchanged is a silent
		 * wrong access: refuse any disagreement between capstone's
		 * operands and the ModRM byte. */
		return refuse(r, in, off, "RIP-relative encoding that capstone "
			      "describes inconsistently (ModRM at +%zu)", mo);

	taddr_t target = in->address + in->size + (uint64_t)rip_op->mem.disp;
	int64_t disp = (int64_t)(target - (pc + in->size));

	if (!fits_rel32(disp))
		return refuse(r, in, off, "RIP-relative target " TADDR_FMT " is out of "
			      "disp32 reach from the trampoline at " TADDR_FMT,
			      TADDR_ARG(target), TADDR_ARG(pc));
	put32(code + at + mo + 1, (uint32_t)disp);
	return in->size;
}

/* Linearly decodes func[0..func_len) and refuses if any direct branch
 * (jmp, jcc, call, loop, jrcxz, xbegin with an immediate target) lands
 * strictly inside (lo, hi); returns 0 or -1 with why. An undecodable byte is
 * stepped over, so the decoder resynchronises after padding or data. Indirect
 * branches (jump tables) cannot be seen: compilers do not aim them at the
 * first bytes of a function, which hold its prologue. */
static int scan_branches_into(csh h, cs_insn *in, const uint8_t *func, size_t func_len,
			      taddr_t func_addr, taddr_t lo, taddr_t hi, struct reloc *r)
{
	const uint8_t *p = func;
	size_t n = func_len;
	uint64_t a = func_addr;

	while (n > 0) {
		if (!cs_disasm_iter(h, &p, &n, &a, in)) {
			p++, n--, a++;
			continue;
		}
		if (!in_group(in, X86_GRP_BRANCH_RELATIVE) && !in_group(in, X86_GRP_JUMP) &&
		    !in_group(in, X86_GRP_CALL))
			continue;
		for (unsigned i = 0; i < in->detail->x86.op_count; i++) {
			const cs_x86_op *o = &in->detail->x86.operands[i];
			taddr_t t = (taddr_t)o->imm;

			if (o->type == X86_OP_IMM && t > lo && t < hi)
				return refuse(r, in, in->address - func_addr,
					      "branches to entry+0x%llx, inside the patch "
					      "window (entry+0x%llx, entry+0x%llx)",
					      (unsigned long long)(t - func_addr),
					      (unsigned long long)(lo - func_addr),
					      (unsigned long long)(hi - func_addr));
		}
	}
	return 0;
}

/* Relocates the displaced instructions into r->code; see arch.h. Returns 0 or
 * -1 with r->why. */
int arch_relocate(const uint8_t *func, size_t func_len, bool whole_function,
		  taddr_t func_addr, taddr_t tramp_addr, size_t need, struct reloc *r)
{
	/* Room for the worst case, checked against RELOC_MAX_CODE at the end
	 * so that the refusal can say how much was needed. */
	uint8_t code[RELOC_MAX_INSNS * EMIT_MAX + JMP_ABS_LEN];
	size_t off = 0, at = 0;
	cs_insn *in;
	csh h;
	int rc = -1;

	memset(r, 0, sizeof *r);
	if (need == 0)
		return refuse(r, NULL, 0, "nothing to relocate (need == 0)");
	if (!(h = cs_handle()))
		return refuse(r, NULL, 0, "capstone cannot open an x86-64 decoder");
	if (func_len >= sizeof endbr64 && !memcmp(func, endbr64, sizeof endbr64))
		r->skip = sizeof endbr64;
	if (func_len - r->skip < need)
		return refuse(r, NULL, 0, "function too short: %zu bytes after entry+0x%zx, "
			      "the patch needs %zu", func_len - r->skip, r->skip, need);
	if (!(in = cs_malloc(h)))
		return refuse(r, NULL, 0, "capstone: out of memory");

	taddr_t start = func_addr + r->skip;

	while (off < need) {
		size_t eoff = r->skip + off;	/* from the entry, for messages */
		taddr_t pc = tramp_addr + at;
		taddr_t target = 0;
		int cc = -1, k = 0;

		if (r->ninsns == RELOC_MAX_INSNS) {
			refuse(r, NULL, 0, "more than %d instructions in the patch window",
			       RELOC_MAX_INSNS);
			goto out;
		}
		if (decode_at(h, func, func_len, func_addr, eoff, in, r) < 0 ||
		    check_class(in, eoff, r) < 0 || (k = rel_branch(in, eoff, &cc, &target, r)) < 0)
			goto out;
		bool last = off + in->size >= need;
		/* capstone puts jcc in the jump group too: only jmp, ret and
		 * indirect jmp leave unconditionally. */
		bool leaves = k ? cc < 0 : in_group(in, X86_GRP_JUMP) || in_group(in, X86_GRP_RET);

		/* c3, e9 rel32, ff /4 ...: whatever follows an unconditional
		 * transfer is reached only by branches, and we would overwrite
		 * it without having seen them. As the last instruction of the
		 * window it is fine: nothing after it is displaced. */
		if (leaves && !last) {
			refuse(r, in, eoff, "control leaves before the patch window is "
			       "full; the bytes after it may be branch targets");
			goto out;
		}
		if (!k && in_group(in, X86_GRP_BRANCH_RELATIVE)) {
			refuse(r, in, eoff, "PC-relative branch that is not modelled");
			goto out;
		}
		/* Both stay below RELOC_MAX_INSNS * EMIT_MAX: uint16_t is plenty. */
		r->orig_off[r->ninsns] = (uint16_t)off;
		r->tramp_off[r->ninsns] = (uint16_t)at;
		r->ninsns++;
		if (k && cc < 0)
			at += emit_jmp(code, at, pc, target);
		else if (k)
			at += emit_jcc(code, at, pc, (unsigned)cc, target);
		else if ((k = copy_insn(in, eoff, code, at, pc, r)) < 0)
			goto out;
		else
			at += (size_t)k;
		off += in->size;
	}
	r->displaced = off;

	/* Branches into the window from the rest of the function would land in
	 * the middle of the new jmp. With the 1-byte breakpoint only the first
	 * byte changes, so a branch to any later byte still finds the original
	 * instructions: no check is needed then. */
	if (need > 1 && !whole_function) {
		refuse(r, NULL, 0, "function size unknown: cannot prove no branch into "
		       "the patch window");
		goto out;
	}
	if (need > 1 && scan_branches_into(h, in, func, func_len, func_addr, start,
					   start + r->displaced, r) < 0)
		goto out;

	at += emit_jmp(code, at, tramp_addr + at, start + r->displaced);
	if (at > RELOC_MAX_CODE) {
		refuse(r, NULL, 0, "trampoline needs %zu bytes, a slot holds %d",
		       at, RELOC_MAX_CODE);
		goto out;
	}
	memcpy(r->code, code, at);
	r->code_len = at;
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
