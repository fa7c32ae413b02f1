/* x86-64 register set: one PTRACE_GETREGS worth. */
#ifndef LT_ARCH_REGS_H
#define LT_ARCH_REGS_H

#include <sys/user.h>

struct arch_regs {
	struct user_regs_struct r;
};

#endif
