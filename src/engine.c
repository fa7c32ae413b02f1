/*
 * engine: the trap engine's event loop and policy.
 *
 * Every stop of every tracee comes through dispatch(). Stops leaktrap caused
 * (a stub's int3, a breakpoint-hooked entry) are serviced and resumed with
 * the SIGTRAP swallowed; every other signal is delivered unchanged;
 * group-stops stay group-stops (PTRACE_LISTEN); new threads are adopted;
 * forked children are cleaned and released; vfork children, which share the
 * target's memory and so its stubs, are serviced like threads until they exec.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/kcmp.h>
#include <sys/ptrace.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "engine.h"
#include "procwatch.h"
#include "maps.h"
#include "region.h"
#include "sample.h"

static struct engine *crash_engine;	/* for engine_emergency() */

uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int engine_signals(void)
{
	sigset_t set;
	sigemptyset(&set);
	int sigs[] = { SIGCHLD, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE };
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaddset(&set, sigs[i]);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	int fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	return fd < 0 ? -errno : fd;
}

/* Drains the signalfd, remembering a signal that asks us to stop. */
static void drain_signals(struct engine *e)
{
	struct signalfd_siginfo si[8];
	ssize_t got;
	do {	/* a short read means nothing is left: no read just to learn that */
		got = read(e->sigfd, si, sizeof(si));
		for (ssize_t i = 0; i < got / (ssize_t)sizeof(si[0]); i++)
			if (si[i].ssi_signo != SIGCHLD && !e->stop_signal)
				e->stop_signal = (int)si[i].ssi_signo;
	} while (got == (ssize_t)sizeof(si));
}

/* Waits up to timeout_ms for a signal to leaktrap or (with input) input,
 * and notes what came. */
static void poll_inputs(struct engine *e, bool input, int timeout_ms)
{
	struct pollfd p[2] = { { .fd = e->sigfd, .events = POLLIN },
			       { .fd = input ? e->input_fd : -1, .events = POLLIN } };
	if (poll(p, 2, timeout_ms) > 0) {
		if (p[0].revents)
			drain_signals(e);
		if (p[1].revents)
			e->input_ready = true;
	}
}

/* Waits up to timeout_ms for a tracee's state change; returns its pid and
 * status, 0 on timeout (or, if interruptible, when a signal asked us to
 * stop), or -1 when there is nothing left to wait for. */
static pid_t wait_any(struct engine *e, int timeout_ms, int *status, bool interruptible)
{
	uint64_t start = now_ns(), deadline = start + (uint64_t)timeout_ms * 1000000ULL;
	/* Stops can come faster than they are serviced (every allocation of
	 * eight threads, under emulation): look at signals and input every
	 * 10 ms anyway, or a SIGINT would wait for a quiet moment. */
	if (start - e->last_sigpoll_ns >= 10000000ULL) {
		e->last_sigpoll_ns = start;
		poll_inputs(e, interruptible, 0);
		if (interruptible && (e->stop_signal || e->input_ready))
			return 0;
	}
	for (;;) {
		pid_t pid = waitpid(-1, status, WNOHANG | __WALL);
		if (pid != 0)
			return pid < 0 && errno == ECHILD ? -1 : pid;
		uint64_t now = now_ns();
		if (now >= deadline || (interruptible && (e->stop_signal || e->input_ready)))
			return 0;
		poll_inputs(e, interruptible, (int)((deadline - now + 999999) / 1000000));
	}
}

/* Says in e->end how the target ended, from a wait status (exit or signal). */
static void note_exit(struct engine *e, int st)
{
	if (WIFEXITED(st))
		snprintf(e->end, sizeof(e->end), "exited with status %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(e->end, sizeof(e->end), "was killed by signal %d (%s)",
			 WTERMSIG(st), strsignal(WTERMSIG(st)));
}

/* Whether two tasks share one address space (a vfork child and its parent). */
static bool same_mm(pid_t a, pid_t b)
{
	return syscall(SYS_kcmp, a, b, KCMP_VM, 0, 0) == 0;
}

/* The State: line of a task, for messages ("S (sleeping)"), or "gone". */
static const char *task_state(pid_t pid, pid_t tid)
{
	static char buf[64];
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", pid, tid);
	FILE *f = fopen(path, "re");
	snprintf(buf, sizeof(buf), "gone");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "State: %63[^\n]", buf) == 1)
			break;
	if (f)
		fclose(f);
	return buf;
}

/* Whether th sits on a breakpoint of ours (a stub's, or a hooked entry's). */
static bool at_our_trap(struct engine *e, struct thread *th)
{
	if (th->stop != STOP_SIGNAL || th->sig != SIGTRAP || !e->hooked)
		return false;
	struct arch_regs *r = target_regs(th);
	if (!r)
		return false;
	bool is_free;
	taddr_t site = arch_bkpt_addr(arch_pc(r));
	return hook_by_trap(e->hk, site, &is_free) >= 0 || hook_by_bkpt(e->hk, site);
}

void engine_record(struct engine *e, pid_t tid, taddr_t addr, uint64_t size,
		   const struct arch_regs *caller, uint64_t t_ns)
{
	/* glibc's realloc(NULL, n) calls malloc: the outer call is recorded. */
	if (hook_in_allocator(e->hk, arch_pc(caller))) {
		e->nested++;
		unwind_set_stack(e->unw, 0, NULL, 0);
		return;
	}
	taddr_t frames[LT_MAX_FRAMES];
	int n = unwind_stack(e->unw, caller, frames, LT_MAX_FRAMES);
	struct live l = { .addr = addr, .size = size, .tid = tid, .t_ns = t_ns };
	sample_weight(size, e->hk->interval, &l.weight_bytes, &l.weight_count);
	l.stack_id = store_intern_stack(e->store, frames, (unsigned)n);
	if (!l.stack_id) {
		e->dropped++;
		return;
	}
	store_alloc(e->store, &l);
	e->samples++;
}

/* A sampled allocation taken at its trap, and recorded once its thread has
 * run on: unwinding takes longer than the stop itself, and the copy of the
 * stack is all it needs from that moment. */
struct deferred {
	pid_t tid;
	taddr_t addr;
	uint64_t size, t_ns;
	struct arch_regs caller;
	size_t off, len;	/* the caller's stack: stack[off], len bytes */
	uint8_t stack[UNWIND_STACK_COPY];	/* from the stub's frame up */
};
#define DEFER_MAX 1	/* one at a time: recorded before the next stop is taken */

/* Records the deferred allocations. Called once their threads are resumed,
 * and before any free is applied: a free logged for one of them must find
 * it in the store. */
static void record_deferred(struct engine *e)
{
	for (size_t i = 0; i < e->ndefer; i++) {
		struct deferred *d = &e->defer[i];
		unwind_set_stack(e->unw, arch_sp(&d->caller), d->stack + d->off, d->len);
		engine_record(e, d->tid, d->addr, d->size, &d->caller, d->t_ns);
	}
	e->ndefer = 0;
}

void engine_forget(struct engine *e, taddr_t addr)
{
	if (store_free_addr(e->store, addr))
		e->frees_seen++;
}

/* hook_drain_frees callback: forgets one block a stub logged as freed. */
static void logged_free(taddr_t addr, void *arg)
{
	engine_forget(arg, addr);
}

/* Brings the store up to date with the frees the stubs logged. */
static void drain_frees(struct engine *e)
{
	record_deferred(e);
	if (e->hooked && e->agent)
		agent_drain(e);
	else if (e->hooked)
		hook_drain_frees(&e->t, e->hk, logged_free, e);
	e->last_drain_ns = now_ns();
}

/* drain_frees for the trap engine, with the free log's head in hand. */
static void drain_frees_to(struct engine *e, uint64_t head)
{
	record_deferred(e);
	hook_drain_frees_to(&e->t, e->hk, head, logged_free, e);
	e->last_drain_ns = now_ns();
}

/* Takes one sampled allocation stopped on its trap with registers r (trap
 * engine): one read gives the stub's frame, the caller's stack and the free
 * log's head; the frees logged before this stop are applied first (a block
 * freed and reallocated at the same address must come out right); the
 * block goes into the sampled table now, before the caller can free it,
 * and record_deferred unwinds it later. */
static void take_alloc(struct engine *e, struct thread *th, int kind, const struct arch_regs *r)
{
	record_deferred(e);	/* before any free is applied */
	struct deferred *d = &e->defer[0];
	uint64_t head;
	size_t got = unwind_copy_stack(e->unw, arch_sp(r), d->stack, hook_free_head(e->hk), &head);
	if (got)
		drain_frees_to(e, head);
	else
		drain_frees(e);
	uint64_t words[ARCH_TRAP_WORDS] = { 0 };
	if (got >= sizeof(words))
		memcpy(words, d->stack, sizeof(words));
	else
		target_read(&e->t, arch_sp(r), words, sizeof(words));
	struct arch_event ev;
	arch_decode_alloc(r, words, &ev);
	taddr_t addr = ev.ret;
	if (hook_defs[kind].result_via_arg0) {
		/* posix_memalign returns 0 and stores the block at *arg0. */
		uint64_t p = 0;
		addr = ev.ret == 0 && target_read(&e->t, ev.arg0, &p, 8) == 0 ? p : 0;
	}
	if (!addr)
		return;
	if (hook_in_allocator(e->hk, arch_pc(&ev.caller))) {
		e->nested++;
		return;
	}
	if (!hook_table_add(&e->t, e->hk, addr)) {
		e->dropped++;
		return;
	}
	d->tid = th->tid;
	d->addr = addr;
	d->size = ev.size;
	d->t_ns = now_ns();
	d->caller = ev.caller;
	size_t off = arch_sp(&ev.caller) - arch_sp(r);
	d->off = off < got ? off : got;
	d->len = got - d->off;
	e->ndefer++;
}

/* Services a stop on one of our breakpoints and makes the thread ready to
 * resume with the SIGTRAP swallowed. */
static void service(struct engine *e, struct thread *th)
{
	uint64_t t0 = now_ns();
	struct arch_regs *r = target_regs(th);
	taddr_t site = arch_bkpt_addr(arch_pc(r));
	bool is_free;
	int kind = hook_by_trap(e->hk, site, &is_free);
	th->sig = 0;
	if (kind >= 0 && arch_pc(r) != site + arch_bkpt_len) {
		/* aarch64 stops with the pc on the brk, x86-64 after the int3:
		 * the stub goes on after it either way. */
		struct arch_regs nr = *r;
		arch_set_pc(&nr, site + arch_bkpt_len);
		target_set_regs(th, &nr);	/* r is th's cached set: updated too */
	}
	if (kind < 0) {
		/* A breakpoint-hooked entry: continue in its stub, as the branch would. */
		struct hook *h = hook_by_bkpt(e->hk, site);
		struct arch_regs nr = *r;
		arch_set_pc(&nr, h->stub);
		target_set_regs(th, &nr);
		return;
	}
	if (is_free) {
		/* Frees logged before this stop happened before it: apply them first. */
		drain_frees(e);
		uint64_t words[ARCH_TRAP_WORDS] = { 0 };
		struct arch_event ev;
		target_read(&e->t, arch_sp(r), words, sizeof(words));
		arch_decode_free(r, words, &ev);
		if (hook_table_del(&e->t, e->hk, ev.arg0)) {
			store_free_addr(e->store, ev.arg0);
			e->frees_seen++;
		}
	} else
		take_alloc(e, th, kind, r);
	e->service_ns += now_ns() - t0;
	e->stops++;
}

/* A stop from a task we do not know yet: a new thread whose clone event has
 * not arrived, a vfork child (shares our memory), or a forked child. */
static void new_task(struct engine *e, pid_t tid, int st, bool stopping)
{
	bool ours = target_status_field(tid, "Tgid") == e->t.pid;
	if (ours || (e->hooked && same_mm(e->t.pid, tid))) {
		struct thread *th = target_add(&e->t, tid, STOP_RUNNING);
		if (!th) {
			ptrace(PTRACE_DETACH, tid, 0, 0);
			return;
		}
		th->foreign = !ours;
		target_note_stop(th, st);
		if (!stopping)
			target_resume(th);
		return;
	}
	/* A forked child: give it the code it had before we came, and let go. */
	if (e->hooked)
		hook_clean_child(e->hk, tid, e->syscall_insn);
	e->forks_cleaned++;
	int sig = (st >> 16) == 0 && WSTOPSIG(st) != SIGTRAP ? WSTOPSIG(st) : 0;
	ptrace(PTRACE_DETACH, tid, 0, sig);
}

/* Handles one wait status. While stopping, threads are left stopped (our
 * breakpoints are serviced when they are resumed); otherwise every stop is
 * serviced and resumed at once. */
static void dispatch(struct engine *e, pid_t tid, int st, bool stopping)
{
	struct thread *th = target_thread(&e->t, tid);
	if (WIFEXITED(st) || WIFSIGNALED(st)) {
		target_remove(&e->t, tid);
		if (tid == e->t.pid) {
			e->t.gone = true;
			e->t.exit_status = st;
			note_exit(e, st);
		}
		return;
	}
	if (!WIFSTOPPED(st))
		return;
	if (!th) {
		new_task(e, tid, st, stopping);
		return;
	}
	target_note_stop(th, st);
	if (th->stop == STOP_EVENT) {
		if (th->event == PTRACE_EVENT_CLONE && !target_thread(&e->t, (pid_t)th->msg) &&
		    syscall(SYS_tgkill, e->t.pid, (pid_t)th->msg, 0) == 0) {
			/* Its first stop comes by itself (auto-attach); until then it
			 * runs. (If it came first, the thread is known already, and may
			 * even have exited: then it is not added back.) */
			target_add(&e->t, (pid_t)th->msg, STOP_RUNNING);
			th = target_thread(&e->t, tid);
		} else if (th->event == PTRACE_EVENT_EXIT && !th->foreign) {
			drain_frees(e);	/* the last chance: the memory goes next */
		} else if (th->event == PTRACE_EVENT_EXEC) {
			if (th->foreign) {	/* a vfork child left our memory */
				ptrace(PTRACE_DETACH, tid, 0, 0);
				target_remove(&e->t, tid);
				return;
			}
			/* The old image, its patches and our region are gone, and so
			 * are the other threads (the execing one now has the leader's tid). */
			for (size_t i = e->t.nth; i-- > 0;)
				if (e->t.th[i].tid != tid && !e->t.th[i].foreign)
					target_remove(&e->t, e->t.th[i].tid);
			th = target_thread(&e->t, tid);
			e->exec_seen = true;
			e->hooked = false;
			snprintf(e->end, sizeof(e->end), "ran execve (a new program image)");
		}
	}
	if (stopping)
		return;
	if (at_our_trap(e, th))
		service(e, th);
	if (target_resume(th) == -ESRCH)
		target_remove(&e->t, tid);
	record_deferred(e);
}

/* Stops every thread; returns 0, or -ESRCH when the target is gone. */
static int stop_all(struct engine *e)
{
	uint64_t deadline = now_ns() + 5000000000ULL;
	target_interrupt_all(&e->t);
	for (;;) {
		bool running = false;
		for (size_t i = 0; i < e->t.nth; i++)
			running |= e->t.th[i].stop == STOP_RUNNING;
		if (!running || e->t.gone)
			break;
		/* A thread that will not stop (uninterruptible sleep) is left
		 * for this round rather than hang; it reports later. */
		if (now_ns() > deadline) {
			for (size_t i = 0; i < e->t.nth; i++)
				if (e->t.th[i].stop == STOP_RUNNING)
					fprintf(stderr, "leaktrap: warning: thread %d (%s) did not stop within 5 s\n",
						e->t.th[i].tid, task_state(e->t.pid, e->t.th[i].tid));
			break;
		}
		int st;
		pid_t pid = wait_any(e, 100, &st, false);
		if (pid < 0) {
			e->t.gone = true;
			break;
		}
		if (pid > 0) {
			dispatch(e, pid, st, true);
			continue;
		}
		/* Slow to stop: forget threads that no longer exist, and interrupt
		 * those added meanwhile. */
		for (size_t i = e->t.nth; i-- > 0;) {
			struct thread *th = &e->t.th[i];
			if (th->stop == STOP_RUNNING && syscall(SYS_tgkill, e->t.pid, th->tid, 0) < 0 &&
			    errno == ESRCH)
				target_remove(&e->t, th->tid);
		}
		target_interrupt_all(&e->t);
	}
	return e->t.gone ? -ESRCH : 0;
}

/* Services pending breakpoints and resumes every stopped thread. */
static void resume_all(struct engine *e)
{
	for (size_t i = 0; i < e->t.nth; i++) {
		struct thread *th = &e->t.th[i];
		if (th->stop == STOP_RUNNING)
			continue;
		if (at_our_trap(e, th))
			service(e, th);
		if (target_resume(th) == -ESRCH)
			target_remove(&e->t, th->tid), i--;
	}
	record_deferred(e);
}

/* Returns a thread in which a system call can be injected, or NULL. */
static struct thread *injector(struct engine *e)
{
	for (size_t i = 0; i < e->t.nth; i++) {
		struct thread *th = &e->t.th[i];
		if (!th->foreign && (th->stop == STOP_INTERRUPT || th->stop == STOP_GROUP))
			return th;
	}
	return NULL;
}

/* Returns a thread that can run an injected system call. When every thread
 * is stopped in a clone or an exit event (a process that creates and joins
 * threads all the time), where nothing can be injected, lets them go on and
 * stops them again, up to 100 times within 2 s; NULL if none came (or the
 * process exited or ran execve meanwhile). */
static struct thread *ready_injector(struct engine *e)
{
	struct thread *th = injector(e);
	uint64_t deadline = now_ns() + 2000000000ULL;
	for (int round = 0; !th && round < 100 && !e->t.gone && !e->exec_seen && now_ns() < deadline;
	     round++) {
		resume_all(e);
		int st;
		pid_t pid = wait_any(e, 1, &st, false);
		if (pid > 0)
			dispatch(e, pid, st, false);
		stop_all(e);
		th = injector(e);
	}
	return th;
}

/* Whether some allocating function got hooked; if none did, a session
 * could sample nothing: err says which were found and why each was refused. */
static bool any_allocation_hooked(const struct hooks *hk, pid_t pid, char *err, size_t errlen)
{
	size_t n = (size_t)snprintf(err, errlen, "no allocation function of PID %d could be hooked", pid);
	const char *sep = ":";
	for (int k = 0; k < HK_COUNT; k++) {
		const struct hook *h = &hk->h[k], *own = h;
		while (own->how == HOW_ALIAS)
			own = &hk->h[own->alias_of];
		if (hook_defs[k].allocates && own->how != HOW_NONE)
			return true;
		if (hook_defs[k].allocates && h->entry && n < errlen) {
			n += (size_t)snprintf(err + n, errlen - n, "%s %s (%s)", sep, hook_defs[k].name, h->why);
			sep = ";";
		}
	}
	return false;
}

/* Copies how each function was hooked, for status and reports after detach. */
static void keep_hook_info(struct engine *e)
{
	static const char *how[] = { "not hooked", "jmp", "breakpoint", "alias" };
	for (int k = 0; k < HK_COUNT; k++) {
		const struct hook *h = &e->hk->h[k];
		snprintf(e->info_how[k], sizeof(e->info_how[k]), "%s", how[h->how]);
		snprintf(e->info_why[k], sizeof(e->info_why[k]), "%s", h->why);
		e->info[k] = (struct hook_info){ hook_defs[k].name, h->entry, e->info_how[k],
						 h->why[0] ? e->info_why[k] : NULL };
	}
}

/* Leaktrap crashed: make the stubs inert and the code original again, and
 * let go of threads that sit on our breakpoints. Only system calls. */
void engine_emergency(void)
{
	struct engine *e = crash_engine;
	if (!e || !e->hooked)
		return;
	crash_engine = NULL;
	hook_set_active(&e->t, e->hk, false);
	if (e->t.nth == 0)
		return;	/* agent engine, threads running: inert stubs are enough */
	for (int k = 0; k < HK_COUNT; k++) {
		struct hook *h = &e->hk->h[k];
		if (h->how == HOW_JMP || h->how == HOW_BKPT)
			target_write_code(&e->t, h->patch_at, h->orig, h->patch_len);
	}
	for (size_t i = 0; i < e->t.nth; i++) {
		struct thread *th = &e->t.th[i];
		if (th->stop == STOP_RUNNING)
			continue;
		struct arch_regs r;
		if (th->stop == STOP_SIGNAL && th->sig == SIGTRAP && arch_regs_get(th->tid, &r) == 0) {
			taddr_t site = arch_bkpt_addr(arch_pc(&r));
			bool is_free;
			if (hook_by_bkpt(e->hk, site)) {	/* entry restored: run it again */
				arch_set_pc(&r, site);
				arch_regs_set(th->tid, &r);
			} else if (hook_by_trap(e->hk, site, &is_free) >= 0 &&
				   arch_pc(&r) != site + arch_bkpt_len) {	/* a stub's: go on after it */
				arch_set_pc(&r, site + arch_bkpt_len);
				arch_regs_set(th->tid, &r);
			}
			th->sig = 0;
		}
		ptrace(PTRACE_DETACH, th->tid, 0, th->stop == STOP_SIGNAL ? th->sig : 0);
	}
}

/* Lets go of every thread, stopped as they are, with their pending
 * signals (agent engine): events still queued for new tasks are taken
 * first so that none is left in a ptrace-stop. */
static void release_threads(struct engine *e)
{
	int st;
	pid_t p;
	while ((p = waitpid(-1, &st, WNOHANG | __WALL)) > 0)
		dispatch(e, p, st, true);
	target_detach_all(&e->t);
}

/* Agent engine, a program leaktrap started: holds its main thread with
 * only the exit and exec events, so that the last events in the ring are
 * read before its memory goes (a short program's whole run can fit in one
 * reading interval). Signals to that thread pass through leaktrap. */
static void hold_leader(struct engine *e)
{
	if (e->hold_leader && ptrace(PTRACE_SEIZE, e->t.pid, 0,
				     PTRACE_O_TRACEEXIT | PTRACE_O_TRACEEXEC) == 0)
		e->leader_held = true;
}

/* Lets go of the main thread held by hold_leader (stopping it first, as
 * PTRACE_DETACH needs). */
static void release_leader(struct engine *e)
{
	int st;
	if (!e->leader_held)
		return;
	e->leader_held = false;
	if (ptrace(PTRACE_INTERRUPT, e->t.pid, 0, 0) < 0)
		return;
	for (int i = 0; i < 500; i++) {
		pid_t p = waitpid(e->t.pid, &st, __WALL | WNOHANG);
		if (p == e->t.pid && WIFSTOPPED(st)) {
			int sig = (st >> 16) == 0 ? WSTOPSIG(st) : 0;
			ptrace(PTRACE_DETACH, e->t.pid, 0, sig);
			return;
		}
		if (p == e->t.pid)
			return;	/* it exited */
		usleep(1000);
	}
}

/* Handles a stop of the held main thread (agent engine); returns false when
 * it has exited. */
static bool leader_event(struct engine *e, int st)
{
	pid_t pid = e->t.pid;
	if (WIFEXITED(st) || WIFSIGNALED(st)) {
		e->leader_held = false;
		note_exit(e, st);
		return false;
	}
	if (!WIFSTOPPED(st))
		return true;
	int event = st >> 16, sig = WSTOPSIG(st);
	if (event == PTRACE_EVENT_EXIT) {
		if (e->hooked)
			agent_drain(e);	/* the memory is still there */
		ptrace(PTRACE_CONT, pid, 0, 0);
	} else if (event == PTRACE_EVENT_EXEC) {
		/* let go: the re-hook seizes every thread of the new image */
		e->leader_held = false;
		ptrace(PTRACE_DETACH, pid, 0, 0);
	} else if (event == PTRACE_EVENT_STOP) {
		if (sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU)
			ptrace(PTRACE_LISTEN, pid, 0, 0);
		else
			ptrace(PTRACE_CONT, pid, 0, 0);
	} else {
		ptrace(PTRACE_CONT, pid, 0, sig);	/* a signal: delivered unchanged */
	}
	return true;
}

/* Seizes and stops every thread, finds the allocator, maps the region and
 * patches the entries; then resumes (trap engine) or releases (agent
 * engine) the threads. Returns 0, or -1 with a reason in err and the
 * target as it was. */
static int hook_process(struct engine *e, char *err, size_t errlen)
{
	pid_t pid = e->t.pid;
	struct maps m;
	struct thread *th;
	if (target_seize(&e->t, pid, err, errlen) < 0)
		return -1;
	uint64_t t0 = now_ns();
	if (stop_all(e) < 0) {
		snprintf(err, errlen, "PID %d exited while leaktrap attached", pid);
		goto fail;
	}
	/* Before anything is read: waiting for a usable thread lets the
	 * threads run, and the process might exec or unload a library. */
	th = ready_injector(e);
	if (e->exec_seen || e->t.gone) {
		snprintf(err, errlen, "PID %d %s while leaktrap attached: try again", pid,
			 e->t.gone ? "exited" : "ran execve");
		goto fail;
	}
	if (finder_find(&e->t, &e->found, err, errlen) < 0)
		goto fail;
	if (maps_read(pid, &m) < 0) {
		snprintf(err, errlen, "cannot read /proc/%d/maps", pid);
		goto fail;
	}
	e->syscall_insn = inject_find_insn(&e->t, &m);
	maps_free(&m);
	if (!e->syscall_insn || !th) {
		snprintf(err, errlen, "cannot run a system call in PID %d (%s)", pid,
			 th ? "no syscall instruction found" : "no thread in a usable stop");
		goto fail;
	}
	if (!e->unw && !(e->unw = unwind_new(&e->t))) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	arch_learn_pac(th->tid);
	e->hk->agent = e->agent;
	taddr_t held[64], locs[64];
	int nheld = 0;
	for (size_t i = 0; i < e->t.nth && nheld < 64; i++) {
		struct arch_regs *r = target_regs(&e->t.th[i]);
		if (r)
			nheld += unwind_interrupted(e->unw, r, held + nheld, locs + nheld, 64 - nheld);
	}
	if (hook_install(&e->t, e->hk, &e->found, th, e->syscall_insn, held, nheld, err, errlen) < 0)
		goto fail;
	if (!any_allocation_hooked(e->hk, pid, err, errlen)) {
		/* no thread has run since: none can be inside a stub */
		hook_set_active(&e->t, e->hk, false);
		if (hook_unpatch(&e->t, e->hk) == 0)	/* else a patch may still lead there */
			hook_unmap(&e->t, e->hk, th, e->syscall_insn);
		goto fail;
	}
	e->hooked = true;
	crash_engine = e;
	keep_hook_info(e);
	if (e->agent) {
		agent_start(e);
		release_threads(e);
		hold_leader(e);
	} else {
		resume_all(e);
	}
	e->pause_attach_ms = (double)(now_ns() - t0) / 1e6;
	return 0;
fail:
	/* A process being killed fails whatever step it is in (a thread gone
	 * under an injection): that, not the step, is the news. Its threads
	 * show it within a few milliseconds. */
	for (int i = 0; i < 20; i++) {
		if (target_exited(pid, true)) {
			snprintf(err, errlen, "PID %d exited while leaktrap attached", pid);
			break;
		}
		usleep(1000);
	}
	/* nothing of ours is in the target: let go of the stopped threads as
	 * they are (PTRACE_DETACH needs them stopped, so no resume first) */
	release_threads(e);
	target_release(&e->t);
	return -1;
}

int engine_attach(struct engine *e, pid_t pid, int sigfd, uint64_t interval, unsigned flags,
		  char *err, size_t errlen)
{
	bool agent = flags & ENGINE_AGENT;
	memset(e, 0, sizeof(*e));
	e->sigfd = sigfd;
	e->input_fd = -1;
	e->agent = agent;
	e->hold_leader = agent && (flags & ENGINE_HOLD_LEADER);
	e->procfd = agent ? procwatch_open() : -1;
	e->t.pid = pid;
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	FILE *f = fopen(path, "re");
	if (f) {
		if (fgets(e->comm, sizeof(e->comm), f))
			e->comm[strcspn(e->comm, "\n")] = 0;
		fclose(f);
	}
	e->attach_ns = now_ns();
	e->hk = calloc(1, sizeof(*e->hk));
	e->store = store_new();
	e->defer = malloc(DEFER_MAX * sizeof(*e->defer));
	if (!e->hk || !e->store || !e->defer) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	e->hk->interval = interval;
	e->hk->rng = (e->attach_ns ^ ((uint64_t)pid << 32)) | 1;
	return hook_process(e, err, errlen);
}

/* Notes that the agent engine's target is gone: nothing left to hook or
 * to undo in a crash. */
static void agent_gone(struct engine *e)
{
	e->t.gone = true;
	e->hooked = false;
	crash_engine = NULL;
}

/* Whether the agent engine's target still runs; notes how it ended if not
 * (its exit status is known only when it is leaktrap's child). */
static bool agent_alive(struct engine *e)
{
	int st;
	pid_t pid = e->t.pid;
	if (waitpid(pid, &st, WNOHANG) != pid) {
		const char *state = task_state(pid, pid);
		if (kill(pid, 0) == 0 && state[0] && state[0] != 'Z' && state[0] != 'X')
			return true;
		if (e->end[0])
			return false;	/* the proc connector told already */
		if (e->procfd < 0 || !procwatch_exit(e->procfd, pid, 200, &st)) {
			snprintf(e->end, sizeof(e->end), "exited (its status went to its parent)");
			return false;
		}
	}
	note_exit(e, st);
	return false;
}

/* The region vanished from a live process: it ran execve. Forgets the old
 * image's heap and hooks the new one, retrying while the dynamic linker is
 * still loading it. Returns 0, or -1 with e->end saying why not. */
static int agent_rehook(struct engine *e)
{
	char err[256] = "";
	uint64_t give_up = now_ns() + 5000000000ULL;
	release_leader(e);
	/* A process on its way out loses its memory before it becomes a
	 * zombie: give it a moment to show which of the two this is. */
	for (int i = 0; i < 50 && agent_alive(e); i++)
		usleep(2000);
	if (!agent_alive(e)) {
		agent_gone(e);
		return -1;
	}
	target_release(&e->t);
	e->hooked = false;
	crash_engine = NULL;
	store_clear_live(e->store);
	unwind_free(e->unw);
	e->unw = NULL;
	while (now_ns() < give_up && agent_alive(e)) {
		struct hooks *hk = e->hk;
		uint64_t interval = hk->interval, rng = hk->rng;
		bool paused = hk->paused;
		memset(hk, 0, sizeof(*hk));
		hk->interval = interval, hk->rng = rng, hk->paused = paused;
		if (hook_process(e, err, sizeof(err)) == 0) {
			e->execs++;
			return 0;
		}
		usleep(20000);
	}
	if (!e->end[0])
		snprintf(e->end, sizeof(e->end), "ran execve; its new image could not be hooked (%.60s)",
			 err);
	e->t.gone = true;
	return -1;
}

/* engine_run for the agent engine: nothing stops; the ring and the free log
 * are read every few milliseconds (at once again while they had events). */
static int agent_run(struct engine *e, uint64_t deadline_ns)
{
	for (;;) {
		if (e->t.gone)
			return 2;
		if (e->stop_signal)
			return 1;
		if (e->input_ready) {
			e->input_ready = false;
			return 3;
		}
		uint64_t now = now_ns();
		if (deadline_ns && now >= deadline_ns)
			return 0;
		int n = e->hooked ? agent_drain(e) : -1;
		if (n < 0) {
			if (!agent_alive(e)) {
				agent_gone(e);
				return 2;
			}
			if (agent_rehook(e) < 0)
				return 2;
			continue;
		}
		/* keep the proc connector's queue short, noting our target's exit */
		int est;
		if (e->procfd >= 0 && procwatch_exit(e->procfd, e->t.pid, 0, &est)) {
			close(e->procfd);
			e->procfd = -1;
			note_exit(e, est);
		}
		/* a task ptrace still reports (auto-attached while we let go) */
		int st;
		pid_t p;
		while ((p = waitpid(-1, &st, WNOHANG | __WALL)) > 0) {
			if (p == e->t.pid && e->leader_held) {
				if (!leader_event(e, st)) {
					agent_gone(e);
					return 2;
				}
			} else if (p == e->t.pid && (WIFEXITED(st) || WIFSIGNALED(st))) {
				leader_event(e, st);	/* leaktrap's child: its status */
				agent_gone(e);
				return 2;
			} else if (p != e->t.pid && WIFSTOPPED(st)) {
				ptrace(PTRACE_DETACH, p, 0, 0);
			}
		}
		poll_inputs(e, true, n > 0 ? 0 : 2);
	}
}

/* engine_run for the trap engine: stops are serviced as they come, and the
 * free log is read every 100 ms. */
static int trap_run(struct engine *e, uint64_t deadline_ns)
{
	for (;;) {
		if (e->t.gone || e->exec_seen)
			return 2;
		if (e->stop_signal)
			return 1;
		if (e->input_ready) {
			e->input_ready = false;
			return 3;
		}
		uint64_t now = now_ns();
		if (deadline_ns && now >= deadline_ns)
			return 0;
		int timeout = deadline_ns ? (int)((deadline_ns - now) / 1000000) + 1 : 1000;
		if (timeout > 100)
			timeout = 100;
		int st;
		pid_t pid = wait_any(e, timeout, &st, true);
		if (pid < 0)
			e->t.gone = true;
		else if (pid > 0)
			dispatch(e, pid, st, false);
		if (now_ns() - e->last_drain_ns > 100000000ULL && !e->t.gone)
			drain_frees(e);
	}
}

int engine_run(struct engine *e, uint64_t deadline_ns)
{
	int why = e->agent ? agent_run(e, deadline_ns) : trap_run(e, deadline_ns);
	/* The commands that run next see the frees logged until now, not
	 * until the last periodic read (up to 100 ms ago). */
	if ((why == 0 || why == 3) && !e->t.gone)
		drain_frees(e);
	return why;
}

int engine_idle(struct engine *e, uint64_t deadline_ns)
{
	for (;;) {
		if (e->stop_signal)
			return 1;
		if (e->input_ready) {
			e->input_ready = false;
			return 3;
		}
		uint64_t now = now_ns();
		if (deadline_ns && now >= deadline_ns)
			return 0;
		poll_inputs(e, true, deadline_ns ? (int)((deadline_ns - now + 999999) / 1000000) : 1000);
	}
}

/* Whether pc lies in the region's code. */
static bool in_region(const struct engine *e, taddr_t pc)
{
	return pc >= e->hk->region && pc < e->hk->region + RG_CODE_SIZE;
}

/* Whether any thread's PC is in the region's code, or a stub has a call in
 * flight, or a signal interrupted a thread there (its handler, still
 * running, would return into the region). */
static bool region_busy(struct engine *e)
{
	uint32_t inflight = 0;
	target_read(&e->t, e->hk->region + RG_INFLIGHT, &inflight, sizeof(inflight));
	if (inflight)
		return true;
	for (size_t i = 0; i < e->t.nth; i++) {
		/* A thread we could not stop might be inside: assume it is. */
		if (e->t.th[i].stop == STOP_RUNNING)
			return true;
		struct arch_regs *r = target_regs(&e->t.th[i]);
		if (r && in_region(e, arch_pc(r)))
			return true;
		taddr_t pcs[8], locs[8];
		int n = r ? unwind_interrupted(e->unw, r, pcs, locs, 8) : 0;
		for (int k = 0; k < n; k++)
			if (in_region(e, pcs[k]))
				return true;
	}
	return false;
}

/* Moves threads stopped inside a trampoline to the same instruction in the
 * original function (now restored), and so the contexts that signals
 * interrupted there, where their handlers will return. */
static void leave_trampolines(struct engine *e)
{
	for (size_t i = 0; i < e->t.nth; i++) {
		struct thread *th = &e->t.th[i];
		struct arch_regs *r = target_regs(th);
		if (!r)
			continue;
		taddr_t orig = hook_tramp_to_orig(e->hk, arch_pc(r));
		if (orig) {
			struct arch_regs nr = *r;
			arch_set_pc(&nr, orig);
			target_set_regs(th, &nr);
			continue;
		}
		taddr_t pcs[8], locs[8];
		int n = unwind_interrupted(e->unw, r, pcs, locs, 8);
		for (int k = 0; k < n; k++)
			if (locs[k] && (orig = hook_tramp_to_orig(e->hk, pcs[k])))
				target_write(&e->t, locs[k], &orig, sizeof(orig));
	}
}

/* Single-steps each stopped thread whose pc lies in the region until it is
 * out, for at most 6 instructions: a thread the trap engine has just
 * served is out in 4 (its stub's return), in some tens of microseconds,
 * where letting the threads run and stopping them again takes
 * milliseconds. Longer paths (the agent's stack copy steps one word at a
 * time) and calls in flight are left to run. Group-stopped threads stay
 * as they are: the target was stopped, it stays stopped. */
static void step_out_of_region(struct engine *e)
{
	for (size_t i = 0; i < e->t.nth; i++) {
		struct thread *th = &e->t.th[i];
		if (th->foreign)
			continue;
		/* (a step may end in another kind of stop: a SIGSTOP came) */
		for (int n = 0; n < 6 && (th->stop == STOP_INTERRUPT || th->stop == STOP_SIGNAL); n++) {
			struct arch_regs *r = target_regs(th);
			if (!r || !in_region(e, arch_pc(r)))
				break;
			int err = target_step(th);
			if (err < 0 && err != -EAGAIN)
				break;
		}
	}
}

/* Whether a stopped thread may be inside the region: its pc is there, or a
 * register or a word near the top of its stack holds a code address there
 * (a stub's call to the original allocator in flight, or a value that only
 * looks like one: resuming a thread for nothing costs little). */
static bool maybe_inside(struct engine *e, struct thread *th)
{
	struct arch_regs *r = target_regs(th);
	if (!r)
		return false;
	if (in_region(e, arch_pc(r)))
		return true;
	uint64_t v, words[128];
	for (int n = 0; n < 64; n++)
		if (arch_unw_reg(r, true, n, &v) == 0 && in_region(e, arch_strip_pc(v)))
			return true;
	if (target_read(&e->t, arch_sp(r), words, sizeof(words)) < 0)
		return true;	/* near the stack's end: cannot tell */
	for (size_t k = 0; k < sizeof(words) / sizeof(words[0]); k++)
		if (in_region(e, arch_strip_pc(words[k])))
			return true;
	return false;
}

/* Resumes the stopped threads that may be inside the region, and them
 * alone (the others stay stopped, so the few that matter get the CPUs and
 * stop again at once); returns how many. */
static int resume_inside(struct engine *e)
{
	int n = 0;
	for (size_t i = 0; i < e->t.nth; i++) {
		struct thread *th = &e->t.th[i];
		if (th->stop == STOP_RUNNING || th->foreign || !maybe_inside(e, th))
			continue;
		if (at_our_trap(e, th))
			service(e, th);
		if (target_resume(th) == -ESRCH)
			target_remove(&e->t, th->tid), i--;
		else
			n++;
	}
	record_deferred(e);
	return n;
}

/* Unmaps the region through a stopped thread: the first that can run the
 * call (one may be dying, or stopped at the system call instruction that
 * injection borrows). Returns 0, or the last -errno (-ESRCH: no thread). */
static int unmap_region(struct engine *e)
{
	int r = -ESRCH;
	for (size_t i = 0; i < e->t.nth && !e->t.gone; i++) {
		struct thread *th = &e->t.th[i];
		if (th->foreign || (th->stop != STOP_INTERRUPT && th->stop != STOP_GROUP))
			continue;
		r = hook_unmap(&e->t, e->hk, th, e->syscall_insn);
		if (r == 0)
			return 0;
	}
	return r;
}

int engine_detach(struct engine *e, char *err, size_t errlen)
{
	int ret = 0;
	err[0] = 0;
	uint64_t t0 = now_ns();
	if (e->agent && !e->t.gone && e->hooked) {
		/* hold the threads again: code is written only while all are stopped */
		char serr[256];
		agent_drain(e);
		release_leader(e);
		target_release(&e->t);
		t0 = now_ns();	/* the pause: from here, not the drain (the target runs) */
		if (target_seize(&e->t, e->t.pid, serr, sizeof(serr)) < 0) {
			if (!agent_alive(e))
				e->t.gone = true;
			else {
				/* cannot stop it: leave the stubs inert, the code patched */
				hook_set_active(&e->t, e->hk, false);
				snprintf(err, errlen, "cannot stop the target to restore its code (%s); "
					 "its hooks are left inert", serr);
				crash_engine = NULL;
				return -1;
			}
		}
	}
	if (e->t.gone) {
		crash_engine = NULL;
		target_release(&e->t);
		return 0;
	}
	stop_all(e);
	if (e->hooked) {
		hook_set_active(&e->t, e->hk, false);
		drain_frees(e);
		/* Breakpoint stops first, while the entries still hold them. */
		for (size_t i = 0; i < e->t.nth; i++)
			if (at_our_trap(e, &e->t.th[i])) {
				service(e, &e->t.th[i]);
				e->t.th[i].stop = STOP_SIGNAL;	/* sig 0: resumes silently */
			}
		record_deferred(e);
		if (hook_unpatch(&e->t, e->hk) < 0) {
			snprintf(err, errlen, "could not restore every patched entry");
			ret = -1;
		}
		/* With the flag clear and the entries restored no thread can enter
		 * a stub again; those inside leave within a few instructions, and
		 * calls in flight return through them. */
		for (int round = 0; round < 400 && !e->t.gone; round++) {
			leave_trampolines(e);
			step_out_of_region(e);
			drain_frees(e);	/* room for stubs waiting to log (--every) */
			if (!region_busy(e))
				break;
			/* Let those inside finish first; then, in case one waits for
			 * another (a lock), everyone. */
			if (round >= 5 || resume_inside(e) == 0)
				resume_all(e);
			int st;
			pid_t pid = wait_any(e, round < 10 ? 1 : 10, &st, false);
			if (pid > 0)
				dispatch(e, pid, st, false);
			stop_all(e);
		}
		if (region_busy(e))
			fprintf(stderr, "leaktrap: warning: threads still inside the stubs after %.0f ms\n",
				(double)(now_ns() - t0) / 1e6);
		drain_frees(e);	/* entries written by threads that were inside */
		/* With every entry restored no thread can enter the region again:
		 * the threads may run while we look for one to unmap it through,
		 * and are all stopped, outside it, when it goes. With an entry
		 * still patched it stays: a thread may still branch into it. */
		const char *why = NULL;
		if (!e->t.gone && !e->exec_seen) {
			if (ret < 0)
				why = "an entry could not be restored";
			else if (region_busy(e))
				why = "a thread was still inside it";
			else if (!ready_injector(e) && !e->t.gone && !e->exec_seen)
				why = "no stopped thread could run munmap";
			else if (e->t.gone || e->exec_seen)
				;	/* the image it was in is gone */
			else if (region_busy(e))
				why = "a thread was still inside it";
			else {
				int r = unmap_region(e);
				why = r == 0 ? NULL : r == -ESRCH ? "no stopped thread could run munmap" :
				      strerror(-r);
			}
		}
		if (why) {
			/* Inert (flag clear, nothing branches to it): safe to leave. */
			e->region_left = true;
			if (!err[0])
				snprintf(err, errlen, "the region at " TADDR_FMT " stays mapped (inert): %s",
					 TADDR_ARG(e->hk->region), why);
		}
		e->hooked = false;
	}
	crash_engine = NULL;
	/* Threads on a swallowed trap resume without it; others get their signal. */
	target_detach_all(&e->t);
	target_release(&e->t);
	e->pause_detach_ms = (double)(now_ns() - t0) / 1e6;
	return ret;
}
