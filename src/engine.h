/* engine: the trap engine: attach, hook, service sampled events, detach. */
#ifndef LT_ENGINE_H
#define LT_ENGINE_H

#include "agent.h"
#include "hook.h"
#include "report.h"
#include "store.h"
#include "unwind.h"

struct engine {
	struct target t;
	struct hooks *hk;
	struct finder_result found;
	struct unwinder *unw;
	struct store *store;
	taddr_t syscall_insn;
	int sigfd;                  /* signalfd: SIGCHLD and the signals that end a session */
	int stop_signal;            /* a signal that asked us to detach, or 0 */
	int input_fd;               /* engine_run returns when it is readable; -1: none */
	bool input_ready;
	bool hooked;                /* stubs installed in the target */
	bool agent;                 /* agent engine: no ptrace between attach and detach */
	struct agent ag;            /* its reader */
	uint64_t execs;             /* execve re-hooked (agent engine) */
	int procfd;                 /* proc connector for the exit status (agent engine), or -1 */
	bool hold_leader;           /* agent engine: keep the main thread for its exit event */
	bool leader_held;
	bool exec_seen;             /* the target ran execve: its old image is gone */
	char end[128];              /* how the target ended, "" while it runs */
	char comm[64];
	uint64_t attach_ns;         /* CLOCK_MONOTONIC at attach */
	struct hook_info info[HK_COUNT];   /* how each function was hooked, kept past detach */
	char info_how[HK_COUNT][32];
	char info_why[HK_COUNT][192];
	/* counters */
	uint64_t samples, frees_seen, dropped, nested, forks_cleaned;
	uint64_t last_drain_ns;     /* when the free log was last read */
	uint64_t last_sigpoll_ns;   /* when signals and input were last looked at */
	uint64_t stops;             /* breakpoint stops serviced */
	uint64_t service_ns;        /* time spent servicing them */
	struct deferred *defer;     /* allocations taken at traps, to unwind (engine.c) */
	size_t ndefer;
	double pause_attach_ms, pause_detach_ms;
	bool region_left;           /* detach could not unmap the region (left inert) */
};

/* Blocks the signals the engine handles and returns a signalfd for them
 * (SIGCHLD, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE), or -errno. */
int engine_signals(void);

enum {
	ENGINE_AGENT = 1,        /* the agent engine (else the trap engine) */
	ENGINE_HOLD_LEADER = 2,  /* agent: keep the main thread for its exit event
				  * (a program leaktrap started) */
};

/* Attaches to pid, finds and hooks its allocator with mean sampling interval
 * `interval` bytes (0: every allocation), with the trap engine or (flags)
 * the agent engine, which lets go of every thread once the hooks are in. On
 * failure returns -1 with a one-line reason in err and the target untouched. */
int engine_attach(struct engine *e, pid_t pid, int sigfd, uint64_t interval, unsigned flags,
		  char *err, size_t errlen);

/* Records a sampled allocation of size bytes at addr by thread tid at t_ns,
 * unwinding from the caller's registers and the stack copy given to the
 * unwinder (unwind_set_stack), if any. The block is in the target's sampled
 * table already: the agent engine's stubs put it there, and the trap engine
 * before it lets the thread run on. */
void engine_record(struct engine *e, pid_t tid, taddr_t addr, uint64_t size,
		   const struct arch_regs *caller, uint64_t t_ns);

/* Forgets the sampled block at addr: it was freed. */
void engine_forget(struct engine *e, taddr_t addr);

/* Services the target's events until deadline_ns (CLOCK_MONOTONIC; 0: no
 * deadline), a signal asks to stop, the target ends or input_fd is
 * readable. Returns 0 at the deadline, 1 on a signal (stop_signal says
 * which; the caller clears it to go on), 2 when the target exited or ran
 * execve, 3 when input_fd is readable. */
int engine_run(struct engine *e, uint64_t deadline_ns);

/* engine_run for a session no longer attached: waits for the deadline, a
 * signal or input, with the same return values. */
int engine_idle(struct engine *e, uint64_t deadline_ns);

/* Restores the target exactly (patches, region) and detaches from every
 * thread. Returns 0, or -1 with what could not be undone in err. */
int engine_detach(struct engine *e, char *err, size_t errlen);

/* Undoes what it can from a signal handler when leaktrap itself crashes. */
void engine_emergency(void);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t now_ns(void);

#endif
