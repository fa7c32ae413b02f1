/* x86-64: registers, system call injection, breakpoint and branch encodings,
 * and decoding the stops of the stub image. */
#include <errno.h>
#include <string.h>
#include <sys/ptrace.h>
#include <libunwind-x86_64.h>

#include "arch.h"
#include "region.h"

/* PTRACE_GETREGS: the whole set in one call. Returns 0 or -errno. */
int arch_regs_get(pid_t tid, struct arch_regs *r)
{
	return ptrace(PTRACE_GETREGS, tid, 0, &r->r) < 0 ? -errno : 0;
}

/* PTRACE_SETREGS. Returns 0 or -errno. */
int arch_regs_set(pid_t tid, const struct arch_regs *r)
{
	return ptrace(PTRACE_SETREGS, tid, 0, &r->r) < 0 ? -errno : 0;
}

/* The instruction pointer. */
taddr_t arch_pc(const struct arch_regs *r) { return r->r.rip; }
/* The stack pointer. */
taddr_t arch_sp(const struct arch_regs *r) { return r->r.rsp; }
/* Sets the instruction pointer. */
void arch_set_pc(struct arch_regs *r, taddr_t pc) { r->r.rip = pc; }

/* SysV argument registers, in order. */
uint64_t arch_arg(const struct arch_regs *r, int n)
{
	switch (n) {
	case 0: return r->r.rdi;
	case 1: return r->r.rsi;
	case 2: return r->r.rdx;
	case 3: return r->r.rcx;
	case 4: return r->r.r8;
	default: return r->r.r9;
	}
}

/* libunwind's x86-64 numbering (UNW_X86_64_RAX = 0 ... RIP = 16) onto the
 * register set (every one: a caller frame's return address is on the stack,
 * never in a register). Returns 0, or -1 for a register libunwind may not have. */
int arch_unw_reg(const struct arch_regs *r, bool whole, int n, uint64_t *val)
{
	const struct user_regs_struct *u = &r->r;
	const unsigned long long v[] = {
		u->rax, u->rdx, u->rcx, u->rbx, u->rsi, u->rdi, u->rbp, u->rsp,
		u->r8, u->r9, u->r10, u->r11, u->r12, u->r13, u->r14, u->r15, u->rip,
	};
	if (n < 0 || n >= (int)(sizeof(v) / sizeof(v[0])))
		return -1;
	*val = v[n];
	return 0;
}

/* The instruction pointer in libunwind's numbering. */
const int arch_unw_pc = UNW_X86_64_RIP;

/* rsp, rbp, and the return address column (16: rip). */
const int arch_dw_sp = 7, arch_dw_fp = 6, arch_dw_ra = 16;

/* x86-64 has no pointer authentication. */
const bool arch_cfi_ra_state = false;
/* The identity: nothing to strip. */
taddr_t arch_strip_pc(taddr_t pc) { return pc; }
/* x86-64 has no pointer authentication: nothing to learn. */
void arch_learn_pac(pid_t tid) { (void)tid; }

/* The SysV callee-saved registers, rsp and rip from get. */
void arch_regs_from_unw(struct arch_regs *r, int (*get)(void *ctx, int unw_regnum, uint64_t *val),
			void *ctx)
{
	struct { int n; unsigned long long *v; } m[] = {
		{ UNW_X86_64_RBX, &r->r.rbx }, { UNW_X86_64_RBP, &r->r.rbp },
		{ UNW_X86_64_R12, &r->r.r12 }, { UNW_X86_64_R13, &r->r.r13 },
		{ UNW_X86_64_R14, &r->r.r14 }, { UNW_X86_64_R15, &r->r.r15 },
		{ UNW_X86_64_RSP, &r->r.rsp }, { UNW_X86_64_RIP, &r->r.rip },
	};
	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		uint64_t v;
		if (get(ctx, m[i].n, &v) == 0)
			*m[i].v = v;
	}
}

const uint8_t arch_syscall_insn[] = { 0x0f, 0x05 };	/* syscall */
const size_t arch_syscall_insn_len = sizeof(arch_syscall_insn);
const uint8_t arch_sigreturn_insn[] = { 0x48, 0xc7, 0xc0, 0x0f, 0x00, 0x00, 0x00, 0x0f, 0x05 };	/* mov $15, %rax; syscall */
const size_t arch_sigreturn_insn_len = sizeof(arch_sigreturn_insn);
const size_t arch_insn_align = 1;

/* orig_rax = -1 tells the kernel that the stop did not interrupt a system
 * call, so it does not "restart" one over the registers we set. */
void arch_syscall_setup(struct arch_regs *r, taddr_t insn, long nr, const uint64_t a[6])
{
	r->r.rip = insn;
	r->r.rax = nr;
	r->r.orig_rax = -1;
	r->r.rdi = a[0];
	r->r.rsi = a[1];
	r->r.rdx = a[2];
	r->r.r10 = a[3];
	r->r.r8 = a[4];
	r->r.r9 = a[5];
}

/* The return value: rax. */
long arch_syscall_ret(const struct arch_regs *r) { return (long)r->r.rax; }

const uint8_t arch_bkpt_insn[] = { 0xcc };			/* int3 */
const size_t arch_bkpt_len = sizeof(arch_bkpt_insn);

/* int3 reports the address after itself. */
taddr_t arch_bkpt_addr(taddr_t pc) { return pc - 1; }

const size_t arch_branch_len = 5;			/* jmp rel32 */
const int64_t arch_branch_reach = INT32_MAX;
const uint64_t arch_region_reach = 1ULL << 30;

/* e9 rel32, relative to the end of the 5-byte instruction. */
int arch_encode_branch(uint8_t *out, taddr_t from, taddr_t to)
{
	int64_t rel = (int64_t)(to - (from + 5));
	if (rel < INT32_MIN || rel > INT32_MAX)
		return -ERANGE;
	int32_t r32 = (int32_t)rel;
	out[0] = 0xe9;
	memcpy(out + 1, &r32, 4);
	return 0;
}

/* The sampled path's frame (stub.S): size, arg0, padding, return address;
 * the stub was entered with %rsp pointing at that return address. */
void arch_decode_alloc(const struct arch_regs *r, const uint64_t *w, struct arch_event *e)
{
	e->size = w[0];
	e->arg0 = w[1];
	e->ret = r->r.rax;
	e->shard_sp = r->r.rsp + 40;
	e->caller = *r;
	e->caller.r.rip = w[5];
	e->caller.r.rsp = r->r.rsp + 48;
}

/* A free trap comes before anything is pushed: %rsp points at the return
 * address and the pointer is still in %rdi. */
void arch_decode_free(const struct arch_regs *r, const uint64_t *w, struct arch_event *e)
{
	e->size = 0;
	e->arg0 = r->r.rdi;
	e->ret = 0;
	e->shard_sp = r->r.rsp;
	e->caller = *r;
	e->caller.r.rip = w[0];
	e->caller.r.rsp = r->r.rsp + 8;
}

/* The record holds what a trap stop would show: rbx, rbp, r12-r15 are the
 * caller's (RS_REGS order, as lt_record stores them). */
void arch_decode_record(const uint8_t *hdr, struct arch_event *e)
{
	uint64_t v[RS_STACK / 8];
	memcpy(v, hdr, sizeof(v));
	memset(e, 0, sizeof(*e));
	e->size = v[RS_SIZE / 8];
	e->arg0 = v[RS_ARG0 / 8];
	e->ret = v[RS_RET / 8];
	e->shard_sp = v[RS_SP / 8] - 8;
	e->caller.r.rip = v[RS_PC / 8];
	e->caller.r.rsp = v[RS_SP / 8];
	e->caller.r.rbx = v[RS_REGS / 8 + 0];
	e->caller.r.rbp = v[RS_REGS / 8 + 1];
	e->caller.r.r12 = v[RS_REGS / 8 + 2];
	e->caller.r.r13 = v[RS_REGS / 8 + 3];
	e->caller.r.r14 = v[RS_REGS / 8 + 4];
	e->caller.r.r15 = v[RS_REGS / 8 + 5];
}

uint64_t arch_counter(void)
{
	uint32_t lo, hi;
	__asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}
