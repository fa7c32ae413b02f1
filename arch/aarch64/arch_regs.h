/*
 * aarch64 register set: one PTRACE_GETREGSET NT_PRSTATUS worth (x0..x30,
 * sp, pc, pstate). The kernel's syscall number is not part of it: every
 * arch_regs_set() writes "no system call" (regs.c says why).
 *
 * Also the frame of a stub's sampled path, which stub.S builds and
 * arch_decode_alloc() and lt_record read; stub.S includes this file for it.
 */
#ifndef LT_ARCH_REGS_H
#define LT_ARCH_REGS_H

/* The sampled path's frame (16-byte aligned, wholly at and above sp):
 *	SF_FP	the caller's x29	} a frame record: x29 points here
 *	SF_LR	the return address	} while the original runs
 *		into the caller, as the stub got it in x30 (signed when the
 *		entry's paciasp/pacibsp ran before the patch: strip it)
 *	SF_SIZE	the requested size
 *	SF_ARG0	the first argument
 *	SF_SCRATCH 16 bytes: x9 while the stub needs a third register, then
 *		lt_record's nanosleep timespec */
#define SF_FP       0
#define SF_LR       8
#define SF_SIZE     16
#define SF_ARG0     24
#define SF_SCRATCH  32
#define SF_BYTES    48

#ifndef __ASSEMBLER__
#include <asm/ptrace.h>

struct arch_regs {
	struct user_pt_regs r;
};
#endif

#endif
