/* target: the traced process, its threads and its memory (the ptrace layer). */
#ifndef LT_TARGET_H
#define LT_TARGET_H

#include "types.h"
#include "arch.h"

/* Why a thread is stopped, as far as leaktrap has to care when resuming it. */
enum stop_kind {
	STOP_RUNNING,    /* not stopped */
	STOP_INTERRUPT,  /* PTRACE_EVENT_STOP from PTRACE_INTERRUPT, or a new thread's first stop */
	STOP_GROUP,      /* group-stop (SIGSTOP & co.): resumed with PTRACE_LISTEN */
	STOP_SIGNAL,     /* signal-delivery-stop: sig is delivered on resume unless cleared */
	STOP_SYSCALL,    /* syscall-enter/exit-stop (only while injecting) */
	STOP_EVENT,      /* PTRACE_EVENT_CLONE/FORK/VFORK/EXEC: event and msg say which */
};

struct thread {
	pid_t tid;
	enum stop_kind stop;
	int sig;                 /* STOP_SIGNAL: signal to deliver; STOP_GROUP: the stop signal */
	int event;               /* STOP_EVENT: PTRACE_EVENT_* */
	unsigned long msg;       /* STOP_EVENT: PTRACE_GETEVENTMSG (new pid) */
	bool interrupted;        /* PTRACE_INTERRUPT sent, no stop seen since */
	bool foreign;            /* a vfork child sharing our address space, not a target thread */
	bool regs_ok;            /* regs hold this stop's registers */
	struct arch_regs regs;
};

struct target {
	pid_t pid;
	struct thread *th;
	size_t nth, cap;
	int memfd;               /* /proc/PID/mem, for writing code */
	bool gone;               /* every thread has exited */
	int exit_status;         /* wait status of the thread-group leader, when gone */
};

/* Checks that pid is a process leaktrap may trace, and seizes every one of
 * its threads (stopped or not). On failure returns -1 with a one-line reason
 * and fix in err, the process untouched. */
int target_seize(struct target *t, pid_t pid, char *err, size_t errlen);

/* Returns the value of field "Name:" in /proc/TID/status (Tgid, Uid,
 * TracerPid ...), or -1 if the task or the field does not exist. */
long target_status_field(pid_t tid, const char *name);

/* Whether the process or thread tid has exited or is exiting (or_killed:
 * or has a SIGKILL pending, which it has not acted on yet). */
bool target_exited(pid_t tid, bool or_killed);

/* Returns the thread with this tid, or NULL. */
struct thread *target_thread(struct target *t, pid_t tid);
/* Adds a thread (stopped in kind stop) and returns it; NULL when out of memory. */
struct thread *target_add(struct target *t, pid_t tid, enum stop_kind stop);
/* Forgets a thread that has exited or been detached. */
void target_remove(struct target *t, pid_t tid);

/* Records in th what the wait status of a ptrace-stop says. */
void target_note_stop(struct thread *th, int status);

/* Returns the registers of a stopped thread, read once per stop; NULL if
 * the thread has vanished. */
struct arch_regs *target_regs(struct thread *th);
/* Writes registers to a stopped thread and keeps them as its cache. */
int target_set_regs(struct thread *th, const struct arch_regs *r);

/* Resumes a stopped thread the way its stop requires (PTRACE_LISTEN for a
 * group-stop; its pending signal for a signal-delivery-stop). Returns 0 or
 * -errno (-ESRCH: it is gone). */
int target_resume(struct thread *th);

/* Executes one instruction of a stopped thread; it ends in a stop of the
 * same kind, its pending signal kept. Returns 0, -EAGAIN when another stop
 * (a signal arriving) came first and is now the thread's (step again), or
 * -errno. */
int target_step(struct thread *th);

/* Sends PTRACE_INTERRUPT to every running thread; returns how many. */
int target_interrupt_all(struct target *t);

/* Detaches every stopped thread, delivering its pending signal. */
void target_detach_all(struct target *t);

/* Reads len bytes at addr; returns 0 or -errno. */
int target_read(struct target *t, taddr_t addr, void *buf, size_t len);
/* Reads the first len bytes of each of n records stride bytes apart (at
 * most TARGET_STRIDED_MAX) at addr into buf, laid out the same way, in one
 * system call; returns 0 or -errno. */
#define TARGET_STRIDED_MAX 64
int target_read_strided(struct target *t, taddr_t addr, size_t stride, size_t len, int n, void *buf);
/* Writes data (writable memory) at addr; returns 0 or -errno. */
int target_write(struct target *t, taddr_t addr, const void *buf, size_t len);
/* Writes n pieces of data (writable memory) in one system call where it
 * can (each piece on its own where not); returns 0 or -errno. */
struct target_piece {
	taddr_t addr;
	const void *buf;
	size_t len;
};
int target_writev(struct target *t, const struct target_piece *p, int n);
/* Writes code (any protection) at addr through /proc/PID/mem; 0 or -errno. */
int target_write_code(struct target *t, taddr_t addr, const void *buf, size_t len);

/* Frees the thread table and closes files; does not detach. */
void target_release(struct target *t);

#endif
