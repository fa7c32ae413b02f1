/* inject: running system calls inside the target, in one of its stopped threads. */
#ifndef LT_INJECT_H
#define LT_INJECT_H

#include "target.h"
#include "maps.h"

/* Returns the address of a system call instruction in the target's
 * executable memory (the vDSO or any mapped object), or 0 if none. */
taddr_t inject_find_insn(struct target *t, const struct maps *m);

/* Runs system call nr(args) in th, which must be in an interrupt- or
 * group-stop, and leaves th exactly as it was: same registers (a system
 * call it was inside still restarts), same kind of stop. Signals that
 * arrive meanwhile are queued again. Stores the call's return value in
 * *ret; returns 0, or -errno if the injection itself failed. */
int inject_syscall(struct target *t, struct thread *th, taddr_t insn,
		   long nr, const uint64_t args[6], long *ret);

#endif
