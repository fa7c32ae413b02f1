/* inject: system calls run inside the target, without writing its code.
 *
 * The thread's PC is pointed at an existing `syscall` instruction and driven
 * with PTRACE_SYSCALL to the syscall-exit-stop. Its registers are then put
 * back and it is walked into an interrupt-stop (PTRACE_INTERRUPT, then
 * PTRACE_CONT: the pending trap is taken before any user instruction runs).
 * Ending in a stop inside get_signal() matters: when the thread is resumed
 * from there, the kernel's syscall-restart logic sees the restored
 * registers, so a thread we interrupted inside read() or nanosleep() restarts
 * it instead of returning -ERESTARTSYS to its caller.
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "inject.h"

/* Looks for arch_syscall_insn in [start, end) of the target; returns its address or 0. */
static taddr_t scan(struct target *t, taddr_t start, taddr_t end)
{
	enum { CHUNK = 65536 };
	uint8_t *buf = malloc(CHUNK);
	taddr_t found = 0;
	if (!buf)
		return 0;
	for (taddr_t a = start; a < end && !found; a += CHUNK - arch_syscall_insn_len) {
		size_t len = end - a < CHUNK ? end - a : CHUNK;
		if (len < arch_syscall_insn_len || target_read(t, a, buf, len) < 0)
			break;
		for (size_t i = 0; i + arch_syscall_insn_len <= len; i += arch_insn_align)
			if (!memcmp(buf + i, arch_syscall_insn, arch_syscall_insn_len)) {
				found = a + i;
				break;
			}
		if (len < CHUNK)
			break;
	}
	free(buf);
	return found;
}

taddr_t inject_find_insn(struct target *t, const struct maps *m)
{
	/* The vDSO first: always mapped, never unmapped, small. */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < m->n; i++) {
			const struct map *mp = &m->v[i];
			if (mp->perms[2] != 'x' || (pass == 0) != !strcmp(mp->path, "[vdso]"))
				continue;
			taddr_t a = scan(t, mp->start, mp->end);
			if (a)
				return a;
		}
	return 0;
}

/* Waits for th's next ptrace-stop; returns the wait status, or -ESRCH if
 * the thread died. It polls rather than blocks: when the process is killed,
 * its main thread is reported only after every other thread has been
 * reaped, which is the engine's wait to do, not this one's. */
static int wait_stop(struct thread *th)
{
	for (int spin = 0;; spin++) {
		int st;
		pid_t r = waitpid(th->tid, &st, __WALL | WNOHANG);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r > 0)
			return WIFSTOPPED(st) ? st : -ESRCH;
		if (target_exited(th->tid, false))
			return -ESRCH;
		if (spin < 200)
			sched_yield();
		else
			usleep(100);
	}
}

/* Resumes th with req until a stop for which want(st) holds; other
 * signal-delivery-stops are suppressed and remembered. Returns 0 or -errno. */
static int drive(struct thread *th, int req, bool (*want)(int), sigset_t *deferred)
{
	for (int guard = 0; guard < 64; guard++) {
		if (ptrace(req, th->tid, 0, 0) < 0)
			return -errno;
		int st = wait_stop(th);
		if (st < 0)
			return st;
		if (want(st))
			return 0;
		int sig = WSTOPSIG(st);
		if ((st >> 16) == 0 && sig != (SIGTRAP | 0x80))
			sigaddset(deferred, sig);
		/* group-stops and stray interrupt stops: go on */
	}
	return -EIO;
}

static bool is_syscall_stop(int st) { return (st >> 16) == 0 && WSTOPSIG(st) == (SIGTRAP | 0x80); }
static bool is_event_stop(int st) { return (st >> 16) == PTRACE_EVENT_STOP; }

int inject_syscall(struct target *t, struct thread *th, taddr_t insn,
		   long nr, const uint64_t args[6], long *ret)
{
	if (th->stop != STOP_INTERRUPT && th->stop != STOP_GROUP)
		return -EINVAL;
	struct arch_regs *cur = target_regs(th);
	if (!cur)
		return -ESRCH;
	/* The thread's own interrupted system call may be restarted through
	 * restart_syscall, which the kernel would put in place of ours. */
	if (arch_pc(cur) == insn || arch_pc(cur) == insn + arch_syscall_insn_len)
		return -EAGAIN;
	struct arch_regs saved = *cur, r = saved;
	enum stop_kind kind = th->stop;
	int sig = th->sig;
	sigset_t deferred;
	sigemptyset(&deferred);

	arch_syscall_setup(&r, insn, nr, args);
	int e = arch_regs_set(th->tid, &r);
	if (e == 0)
		e = drive(th, PTRACE_SYSCALL, is_syscall_stop, &deferred);	/* entry */
	if (e == 0)
		e = drive(th, PTRACE_SYSCALL, is_syscall_stop, &deferred);	/* exit */
	if (e == 0) {
		struct arch_regs out;
		e = arch_regs_get(th->tid, &out);
		if (e == 0)
			*ret = arch_syscall_ret(&out);
	}
	if (e == -ESRCH) {
		th->stop = STOP_RUNNING;	/* dying: nothing of it to restore */
		th->regs_ok = false;
		return e;
	}
	/* Whatever happened, put the registers back and end in an interrupt-stop. */
	int e2 = arch_regs_set(th->tid, &saved);
	if (e2 == 0 && ptrace(PTRACE_INTERRUPT, th->tid, 0, 0) < 0)
		e2 = -errno;
	if (e2 == 0)
		e2 = drive(th, PTRACE_CONT, is_event_stop, &deferred);
	for (int s = 1; s < NSIG; s++)
		if (sigismember(&deferred, s))
			syscall(SYS_tgkill, t->pid, th->tid, s);
	th->stop = kind;
	th->sig = sig;
	th->regs = saved;
	th->regs_ok = true;
	return e ? e : e2;
}
