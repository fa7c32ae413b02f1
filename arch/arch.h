/*
 * arch.h: the only door between src/ and the architecture.
 *
 * Everything that differs between x86-64 and aarch64 is behind this list:
 * register access, the encodings of breakpoints, branches and system calls,
 * the relocator, and the stub image. arch/$(ARCH)/ implements all of it;
 * src/ never tests the architecture.
 */
#ifndef LT_ARCH_H
#define LT_ARCH_H

#include "types.h"
#include "arch_regs.h"   /* struct arch_regs, from arch/$(ARCH)/ */
#include "hookdefs.h"

/* ---- registers (read once per stop; accessors are pure) ---- */

/* Reads the registers of a stopped tracee; returns 0 or -errno. */
int arch_regs_get(pid_t tid, struct arch_regs *r);
/* Writes them back, and marks the thread as not inside a system call (so
 * that restoring a thread after an injected call restarts nothing); returns
 * 0 or -errno. Never at a system-call-entry stop. */
int arch_regs_set(pid_t tid, const struct arch_regs *r);
/* Program counter. */
taddr_t arch_pc(const struct arch_regs *r);
/* Stack pointer. */
taddr_t arch_sp(const struct arch_regs *r);
/* Sets the program counter. */
void arch_set_pc(struct arch_regs *r, taddr_t pc);
/* The n-th integer argument register at a function entry (n < 6). */
uint64_t arch_arg(const struct arch_regs *r, int n);
/* Copies register unw_regnum (libunwind numbering) into *val; returns 0, or
 * -1 when the register is not one that callers can rely on. whole: r is a
 * stopped thread's own register set, where every register is exact (else
 * a caller frame, struct arch_event). */
int arch_unw_reg(const struct arch_regs *r, bool whole, int unw_regnum, uint64_t *val);
/* The program counter in libunwind's numbering. Not UNW_REG_IP, which on
 * aarch64 is x30: in a signal frame the interrupted pc and x30 are saved
 * apart, and the pc is what a thread will return to. */
extern const int arch_unw_pc;

/* DWARF numbers of the stack pointer, the frame pointer and the return
 * address column of the arch's unwind tables. libunwind numbers these
 * registers the same way, so arch_unw_reg reads them. */
extern const int arch_dw_sp, arch_dw_fp, arch_dw_ra;

/* Whether the arch's unwind tables mark where return addresses are signed
 * (aarch64: DW_CFA_AARCH64_negate_ra_state), which libunwind 1.6 rejects. */
extern const bool arch_cfi_ra_state;
/* The code of the signal return trampoline (rt_sigreturn), the kernel's or
 * the C library's: a frame whose pc points at it is a signal frame, and
 * the frame below it is the context the signal interrupted. */
extern const uint8_t arch_sigreturn_insn[];
extern const size_t arch_sigreturn_insn_len;

/* Learns from a stopped thread of the target which bits of its code
 * addresses hold a pointer-authentication code (aarch64: NT_ARM_PAC_MASK;
 * none where the CPU or the arch has no such codes). */
void arch_learn_pac(pid_t tid);
/* A code address without its pointer-authentication code (the identity
 * where the arch has none). */
taddr_t arch_strip_pc(taddr_t pc);
/* Fills r's pc, sp and callee-saved registers from get(ctx, unw_regnum, &val),
 * which returns 0 or -1 for a register it does not have. */
void arch_regs_from_unw(struct arch_regs *r, int (*get)(void *ctx, int unw_regnum, uint64_t *val),
			void *ctx);

/* ---- system call injection ---- */

/* The bytes of one system call instruction, to look for in the target. */
extern const uint8_t arch_syscall_insn[];
extern const size_t arch_syscall_insn_len;
/* Alignment at which arch_syscall_insn may start (1 on x86-64, 4 on aarch64). */
extern const size_t arch_insn_align;
/* Prepares r to run system call nr(args) at insn, with syscall restart disabled. */
void arch_syscall_setup(struct arch_regs *r, taddr_t insn, long nr, const uint64_t args[6]);
/* The return value of the system call that just ran. */
long arch_syscall_ret(const struct arch_regs *r);

/* ---- code patching ---- */

/* The breakpoint instruction and its length. */
extern const uint8_t arch_bkpt_insn[];
extern const size_t arch_bkpt_len;
/* Address of the breakpoint that caused a stop whose PC is pc. */
taddr_t arch_bkpt_addr(taddr_t pc);
/* Length of the direct branch written at a hooked entry. */
extern const size_t arch_branch_len;
/* How far that branch reaches, in bytes, either way. */
extern const int64_t arch_branch_reach;
/* How far from every hooked entry the region may start: x86-64 1 GiB, as
 * its trampolines keep RIP-relative operands whose data lies a few MiB
 * beyond the code; aarch64 nearly the branch's reach, as its relocator
 * materialises whatever a trampoline cannot reach. */
extern const uint64_t arch_region_reach;
/* Encodes a direct branch at from to to into out[arch_branch_len]; returns 0,
 * or -ERANGE if to is out of reach. */
int arch_encode_branch(uint8_t *out, taddr_t from, taddr_t to);

/* ---- relocator ---- */

#define RELOC_MAX_INSNS 16
#define RELOC_MAX_CODE  64    /* a trampoline slot in the stub image */

/* What the relocator makes of the start of one function. */
struct reloc {
	size_t skip;          /* bytes left in place at the entry (endbr64, bti c, paciasp) */
	size_t displaced;     /* bytes after skip that the trampoline replaces */
	uint8_t code[RELOC_MAX_CODE];   /* the trampoline: displaced insns rewritten, then a branch back */
	size_t code_len;
	/* Instruction boundaries, to move a stopped thread between the original
	 * and the trampoline: insn i starts at entry+skip+orig_off[i] and at
	 * tramp+tramp_off[i]. */
	unsigned ninsns;
	uint16_t orig_off[RELOC_MAX_INSNS], tramp_off[RELOC_MAX_INSNS];
	char why[160];        /* on refusal: what was refused and why */
};

/*
 * Relocates the instructions at the start of a function so that at least
 * `need` bytes after any landing pad can be overwritten.
 * func[0..func_len) are the function's bytes as loaded at func_addr (the
 * whole function when its size is known, so that branches back into the
 * window can be found; pass whole_function=false otherwise). The trampoline
 * will run at tramp_addr and branch back to func_addr+skip+displaced.
 * Returns 0 and fills r, or -1 with r->why saying what it refused.
 */
int arch_relocate(const uint8_t *func, size_t func_len, bool whole_function,
		  taddr_t func_addr, taddr_t tramp_addr, size_t need, struct reloc *r);

/* ---- the stub image (arch/$(ARCH)/stub.S; layout in src/region.h) ---- */

/* The code part of the region, copied to its start; and its size. */
extern const uint8_t arch_image[];
extern const uint32_t arch_image_size;
/* Per hook kind, where its stub, trampoline slot and breakpoints are. */
extern const struct arch_hook_offsets arch_image_hooks[HK_COUNT];

/* How many words at the stack pointer a stub's breakpoint stop needs read. */
#define ARCH_TRAP_WORDS 6

/* What a stub's breakpoint says about the call it interrupted. */
struct arch_event {
	uint64_t size;          /* bytes requested (allocation traps) */
	uint64_t arg0;          /* the call's first argument */
	uint64_t ret;           /* the original's return value (allocation traps) */
	taddr_t shard_sp;       /* the stack pointer the stub drew its countdown with */
	struct arch_regs caller;/* the caller's registers just after the call: pc is
				 * the return address; callee-saved ones are exact */
};

/* Decodes the stop at an allocation trap, given regs and the ARCH_TRAP_WORDS
 * words at the stack pointer. */
void arch_decode_alloc(const struct arch_regs *r, const uint64_t *words, struct arch_event *e);
/* Decodes the stop at a free trap (before the original runs). */
void arch_decode_free(const struct arch_regs *r, const uint64_t *words, struct arch_event *e);
/* Decodes the header of a ring record (agent engine; layout RS_* in
 * region.h). For posix_memalign, ret is the block, not the status. */
void arch_decode_record(const uint8_t *hdr, struct arch_event *e);
/* The counter stubs stamp events with (x86-64: the TSC), read here by the
 * tool to map it to CLOCK_MONOTONIC. */
uint64_t arch_counter(void);

#endif
