/* aarch64: registers, system call injection, breakpoint and branch encodings,
 * and decoding the stops and records of the stub image (stub.S). */
#include <elf.h>
#include <errno.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <libunwind-aarch64.h>

#include "arch.h"
#include "region.h"

/* A stub's trap stop shows the whole sampled-path frame. */
_Static_assert(ARCH_TRAP_WORDS * 8 == SF_BYTES, "ARCH_TRAP_WORDS covers the stub's frame");

/* PTRACE_GETREGSET NT_PRSTATUS: the whole set in one call. Returns 0 or -errno. */
int arch_regs_get(pid_t tid, struct arch_regs *r)
{
	struct iovec iov = { .iov_base = &r->r, .iov_len = sizeof(r->r) };
	if (ptrace(PTRACE_GETREGSET, tid, NT_PRSTATUS, &iov) < 0)
		return -errno;
	return iov.iov_len == sizeof(r->r) ? 0 : -EIO;
}

/*
 * PTRACE_SETREGSET NT_PRSTATUS, then the syscall number NT_ARM_SYSTEM_CALL
 * = -1 ("not in a system call"). Returns 0 or -errno.
 *
 * Why always -1: arm64 decides a syscall restart in do_signal() *before*
 * the stop in get_signal() (pc rewound to the svc, x0 = orig_x0, syscall
 * number forgotten), so in the interrupt-, group- and signal-stops leaktrap
 * writes registers in, the number is -1 already and writing it changes
 * nothing. The one stop where it is not is the syscall-exit-stop of a
 * system call run by inject.c, where the thread's saved registers are put
 * back: left at that call's number, the kernel would take the restored x0
 * for that call's result on the way out, and, were it -ERESTARTSYS & co.,
 * rewind the restored pc by 4 and load x0 from that call's orig_x0. (At a
 * syscall-entry-stop -1 would cancel the call: leaktrap never writes
 * registers there.)
 */
int arch_regs_set(pid_t tid, const struct arch_regs *r)
{
	struct iovec iov = { .iov_base = (void *)&r->r, .iov_len = sizeof(r->r) };
	if (ptrace(PTRACE_SETREGSET, tid, NT_PRSTATUS, &iov) < 0)
		return -errno;
	int nosys = -1;
	struct iovec sc = { .iov_base = &nosys, .iov_len = sizeof(nosys) };
	return ptrace(PTRACE_SETREGSET, tid, NT_ARM_SYSTEM_CALL, &sc) < 0 ? -errno : 0;
}

/* The program counter. */
taddr_t arch_pc(const struct arch_regs *r) { return r->r.pc; }
/* The stack pointer. */
taddr_t arch_sp(const struct arch_regs *r) { return r->r.sp; }
/* Sets the program counter. */
void arch_set_pc(struct arch_regs *r, taddr_t pc) { r->r.pc = pc; }

/* AAPCS64 argument registers: x0..x5. */
uint64_t arch_arg(const struct arch_regs *r, int n)
{
	return n >= 0 && n < 8 ? r->r.regs[n] : 0;
}

/* libunwind's aarch64 numbering (UNW_AARCH64_X0 = 0 ... X30, SP = 31,
 * PC = 32) onto the register set. Of a caller frame (struct arch_event)
 * only what is exact there is given: x19..x29, sp and pc. Not x30: at the
 * caller's return point it holds that very return address, and the
 * caller's own return address is for libunwind to find through its CFI.
 * A whole register set also gives x0..x30: a thread stopped in a leaf
 * function (a system call wrapper) has its return address in x30.
 * Returns 0, or -1 for any other register. */
int arch_unw_reg(const struct arch_regs *r, bool whole, int n, uint64_t *val)
{
	if ((n >= UNW_AARCH64_X19 && n <= UNW_AARCH64_X29) ||
	    (whole && n >= UNW_AARCH64_X0 && n <= UNW_AARCH64_X30))
		*val = r->r.regs[n - UNW_AARCH64_X0];
	else if (n == UNW_AARCH64_SP)
		*val = r->r.sp;
	else if (n == UNW_AARCH64_PC)
		*val = r->r.pc;
	else
		return -1;
	return 0;
}

/* The program counter in libunwind's numbering (UNW_REG_IP is x30). */
const int arch_unw_pc = UNW_AARCH64_PC;

/* sp, x29, and x30 (the link register) for the return address. */
const int arch_dw_sp = 31, arch_dw_fp = 29, arch_dw_ra = 30;

/* Functions built with -mbranch-protection mark paciasp/autiasp in their CFI. */
const bool arch_cfi_ra_state = true;

/* The bits of the target's code addresses that hold an authentication code,
 * as its kernel reports them: 0 until learnt, and on a CPU without pointer
 * authentication, where no address carries one. The same for every thread
 * of every process on one kernel, so one leaktrap session needs it once. */
static uint64_t pac_insn_mask;

/* PTRACE_GETREGSET NT_ARM_PAC_MASK (struct user_pac_mask); EINVAL without
 * pointer authentication leaves the mask 0. */
void arch_learn_pac(pid_t tid)
{
	struct { uint64_t data_mask, insn_mask; } m;
	struct iovec iov = { .iov_base = &m, .iov_len = sizeof(m) };
	if (ptrace(PTRACE_GETREGSET, tid, NT_ARM_PAC_MASK, &iov) == 0 && iov.iov_len == sizeof(m))
		pac_insn_mask = m.insn_mask;
}

/* Clears the authentication code's bits of a code address. */
taddr_t arch_strip_pc(taddr_t pc)
{
	return pc & ~pac_insn_mask;
}

/* The AAPCS64 callee-saved registers x19..x29, sp and pc from get. */
void arch_regs_from_unw(struct arch_regs *r, int (*get)(void *ctx, int unw_regnum, uint64_t *val),
			void *ctx)
{
	uint64_t v;
	for (int n = UNW_AARCH64_X19; n <= UNW_AARCH64_X29; n++)
		if (get(ctx, n, &v) == 0)
			r->r.regs[n - UNW_AARCH64_X0] = v;
	if (get(ctx, UNW_AARCH64_SP, &v) == 0)
		r->r.sp = v;
	if (get(ctx, UNW_AARCH64_PC, &v) == 0)
		r->r.pc = v;
}

const uint8_t arch_syscall_insn[] = { 0x01, 0x00, 0x00, 0xd4 };	/* svc #0 */
const size_t arch_syscall_insn_len = sizeof(arch_syscall_insn);
const uint8_t arch_sigreturn_insn[] = { 0x68, 0x11, 0x80, 0xd2, 0x01, 0x00, 0x00, 0xd4 };	/* mov x8, #139; svc #0 */
const size_t arch_sigreturn_insn_len = sizeof(arch_sigreturn_insn);
const size_t arch_insn_align = 4;

/* x8 = number, x0..x5 = arguments, pc at the svc. The restart that the
 * interrupted system call may have had is already folded into the saved
 * pc and x0 (see arch_regs_set), and arch_regs_set keeps the kernel from
 * making one of this call. insn must not be the svc the thread itself
 * stopped in: arm64 restarts a call that returned -ERESTART_RESTARTBLOCK
 * (nanosleep, a timed futex wait, poll) after the stop by loading x8 with
 * restart_syscall when the pc it resumes at is that svc, whatever x8 the
 * tracer set. */
void arch_syscall_setup(struct arch_regs *r, taddr_t insn, long nr, const uint64_t a[6])
{
	r->r.pc = insn;
	r->r.regs[8] = (uint64_t)nr;
	for (int i = 0; i < 6; i++)
		r->r.regs[i] = a[i];
}

/* The return value: x0. */
long arch_syscall_ret(const struct arch_regs *r) { return (long)r->r.regs[0]; }

const uint8_t arch_bkpt_insn[] = { 0x00, 0x00, 0x20, 0xd4 };	/* brk #0, as gdb's */
const size_t arch_bkpt_len = sizeof(arch_bkpt_insn);

/* A brk stops with the pc on itself (ELR is the brk, and the kernel's
 * SIGTRAP/TRAP_BRKPT leaves it there): resuming means pc + 4. */
taddr_t arch_bkpt_addr(taddr_t pc) { return pc; }

const size_t arch_branch_len = 4;				/* b imm26 */
const int64_t arch_branch_reach = (int64_t)1 << 27;		/* 128 MiB */
const uint64_t arch_region_reach = (1ULL << 27) - (1ULL << 20);	/* 127 MiB */

/* 000101 imm26, in words, relative to the branch itself; little-endian.
 * Returns 0, -ERANGE beyond +-128 MiB, -EINVAL if either is misaligned. */
int arch_encode_branch(uint8_t *out, taddr_t from, taddr_t to)
{
	int64_t rel = (int64_t)(to - from);
	if ((from | to) & 3)
		return -EINVAL;
	if (rel < -arch_branch_reach || rel >= arch_branch_reach)
		return -ERANGE;
	uint32_t insn = 0x14000000u | ((uint32_t)(rel >> 2) & 0x03ffffffu);
	for (int i = 0; i < 4; i++)
		out[i] = (uint8_t)(insn >> (8 * i));
	return 0;
}

/* The sampled path's frame (arch_regs.h, stub.S) is at sp; the caller's sp
 * is above it. x30 is set to the return address, as the caller has it
 * right after the return (the stop's x30 is the stub's own). */
void arch_decode_alloc(const struct arch_regs *r, const uint64_t *w, struct arch_event *e)
{
	taddr_t ra = arch_strip_pc(w[SF_LR / 8]);
	e->size = w[SF_SIZE / 8];
	e->arg0 = w[SF_ARG0 / 8];
	e->ret = r->r.regs[0];
	e->shard_sp = r->r.sp + SF_BYTES;
	e->caller = *r;
	e->caller.r.regs[29] = w[SF_FP / 8];
	e->caller.r.regs[30] = ra;
	e->caller.r.pc = ra;
	e->caller.r.sp = r->r.sp + SF_BYTES;
}

/* A free trap comes with every register as at the entry: the pointer in
 * x0, the return address in x30, the caller's sp. */
void arch_decode_free(const struct arch_regs *r, const uint64_t *w, struct arch_event *e)
{
	taddr_t ra = arch_strip_pc(r->r.regs[30]);
	e->size = 0;
	e->arg0 = r->r.regs[0];
	e->ret = 0;
	e->shard_sp = r->r.sp;
	e->caller = *r;
	e->caller.r.regs[30] = ra;
	e->caller.r.pc = ra;
}

/* The record holds what a trap stop would show: RS_REGS is x19..x28, the
 * caller's x29, and x30 (the return address), as lt_record stores them. */
void arch_decode_record(const uint8_t *hdr, struct arch_event *e)
{
	uint64_t v[RS_STACK / 8];
	memcpy(v, hdr, sizeof(v));
	memset(e, 0, sizeof(*e));
	e->size = v[RS_SIZE / 8];
	e->arg0 = v[RS_ARG0 / 8];
	e->ret = v[RS_RET / 8];
	e->shard_sp = v[RS_SP / 8];
	e->caller.r.pc = arch_strip_pc(v[RS_PC / 8]);
	e->caller.r.sp = v[RS_SP / 8];
	for (int i = 0; i < RS_NREGS - 1; i++)
		e->caller.r.regs[19 + i] = v[RS_REGS / 8 + i];
	e->caller.r.regs[30] = e->caller.r.pc;
}

/* The virtual counter, as the stubs read it (mrs cntvct_el0; Linux lets
 * user space read it). The isb keeps it from being read early. */
uint64_t arch_counter(void)
{
	uint64_t v;
	__asm__ __volatile__("isb\n\tmrs %0, cntvct_el0" : "=r"(v) : : "memory");
	return v;
}
