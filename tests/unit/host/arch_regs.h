/*
 * arch_regs.h for the host-built aarch64 unit tests: a stand-in for
 * arch/aarch64/arch_regs.h, whose struct comes from the target's
 * <asm/ptrace.h> and does not compile on an x86-64 host. These tests use
 * only the relocator, which never looks inside struct arch_regs; -I puts
 * this directory first so that the real one is never seen here.
 */
#ifndef LT_ARCH_REGS_H
#define LT_ARCH_REGS_H

#include <stdint.h>

struct arch_regs {
	uint64_t x[34];
};

#endif
