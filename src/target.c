/* target: the ptrace layer: seizing threads, reading stops, resuming them,
 * and reading and writing the target's memory. Policy lives in engine.c. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <elf.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "target.h"

/* TRACEEXIT: a thread's exit stops it while its memory still exists, so
 * the free log can be read one last time when the process exits. */
#define SEIZE_OPTIONS (PTRACE_O_TRACECLONE | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | \
		       PTRACE_O_TRACEEXEC | PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACEEXIT)

/* Reads a small /proc file into buf (NUL-terminated); returns its length or -errno. */
static ssize_t read_small(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, len - 1);
	int e = errno;
	close(fd);
	if (n < 0)
		return -e;
	buf[n] = 0;
	return n;
}

/* Returns the field name of /proc/PID/status, read in base (16: a signal
 * mask, all 64 bits); -1 if absent. */
static long long status_field(pid_t pid, const char *name, int base)
{
	char path[64], buf[4096];
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if (read_small(path, buf, sizeof(buf)) < 0)
		return -1;
	size_t nl = strlen(name);
	for (char *p = buf; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (!strncmp(p, name, nl) && p[nl] == ':')
			return base == 16 ? (long long)strtoull(p + nl + 1, NULL, 16) :
					    strtoll(p + nl + 1, NULL, base);
	return -1;
}

long target_status_field(pid_t pid, const char *name)
{
	return (long)status_field(pid, name, 10);
}

/* Parses state and flags out of /proc/PID/stat; returns 0 or -errno. */
static int stat_state(pid_t pid, char *state, unsigned long *flags, char *comm, size_t commlen)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	ssize_t n = read_small(path, buf, sizeof(buf));
	if (n < 0)
		return (int)n;
	/* comm may contain spaces and parentheses: the last ')' ends it. */
	char *open_paren = strchr(buf, '('), *close_paren = strrchr(buf, ')');
	if (!open_paren || !close_paren)
		return -EINVAL;
	snprintf(comm, commlen, "%.*s", (int)(close_paren - open_paren - 1), open_paren + 1);
	char *p = close_paren + 2;
	*state = *p;
	/* fields after state: ppid pgrp session tty_nr tpgid flags */
	unsigned long f = 0;
	if (sscanf(p + 1, " %*d %*d %*d %*d %*d %lu", &f) != 1)
		return -EINVAL;
	*flags = f;
	return 0;
}

/* Returns the ELF class of the process's executable, or 0 if unknown. */
static int exe_class(pid_t pid)
{
	char path[64];
	unsigned char ident[EI_NIDENT];
	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, ident, sizeof(ident));
	close(fd);
	if (n != EI_NIDENT || memcmp(ident, ELFMAG, SELFMAG))
		return 0;
	return ident[EI_CLASS];
}

/* Explains why PTRACE_SEIZE failed with EPERM, naming the fix. */
static void explain_eperm(pid_t pid, char *err, size_t errlen)
{
	char buf[32];
	long scope = read_small("/proc/sys/kernel/yama/ptrace_scope", buf, sizeof(buf)) > 0 ?
		     strtol(buf, NULL, 10) : 0;
	long uid = target_status_field(pid, "Uid");
	if (scope >= 1)
		snprintf(err, errlen, "not permitted to trace PID %d: kernel.yama.ptrace_scope is %ld; "
			 "run leaktrap as root or with CAP_SYS_PTRACE%s", pid, scope,
			 scope < 3 ? ", or set the sysctl to 0" : " (scope 3 forbids even that: reboot to change it)");
	else
		snprintf(err, errlen, "not permitted to trace PID %d (owned by uid %ld): "
			 "run leaktrap as that user or as root", pid, uid);
}

bool target_exited(pid_t tid, bool or_killed)
{
	char state, comm[64];
	unsigned long flags;
	if (stat_state(tid, &state, &flags, comm, sizeof(comm)) < 0 || state == 'Z' || state == 'X' ||
	    (flags & 0x4))	/* PF_EXITING: on its way out */
		return true;
	if (!or_killed)
		return false;
	/* killed, and not there yet (a traced thread stops at its exit event first) */
	long long pend = status_field(tid, "SigPnd", 16), shd = status_field(tid, "ShdPnd", 16);
	unsigned long long mask = (pend == -1 ? 0 : (unsigned long long)pend) |
				  (shd == -1 ? 0 : (unsigned long long)shd);
	return mask & (1ULL << (SIGKILL - 1));
}

/* Returns how many threads of pid have not exited. */
static int live_threads(pid_t pid)
{
	char path[64], state, comm[64];
	unsigned long flags;
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	DIR *d = opendir(path);
	if (!d)
		return 0;
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' && stat_state(atoi(de->d_name), &state, &flags, comm, sizeof(comm)) == 0 &&
		    state != 'Z' && state != 'X')
			n++;
	closedir(d);
	return n;
}

/* Validates pid and fills err with what is wrong; returns 0 if it looks traceable. */
static int check_pid(pid_t pid, char *err, size_t errlen)
{
	char state, comm[64];
	unsigned long flags;
	if (pid <= 0) {
		snprintf(err, errlen, "invalid PID %d: give the PID of a running process", pid);
		return -1;
	}
	int r = stat_state(pid, &state, &flags, comm, sizeof(comm));
	if (r == -ENOENT || r == -ESRCH) {
		snprintf(err, errlen, "no process with PID %d: check it with 'ps -p %d'", pid, pid);
		return -1;
	}
	if (r < 0) {
		snprintf(err, errlen, "cannot read /proc/%d/stat: %s", pid, strerror(-r));
		return -1;
	}
	if (pid == getpid()) {
		snprintf(err, errlen, "PID %d is leaktrap itself: give the PID of the process to examine", pid);
		return -1;
	}
	if (pid == getppid()) {
		snprintf(err, errlen, "PID %d is leaktrap's parent, which is waiting for leaktrap: "
			 "run leaktrap from another shell", pid);
		return -1;
	}
	if (flags & 0x00200000) {	/* PF_KTHREAD */
		snprintf(err, errlen, "PID %d (%s) is a kernel thread: leaktrap examines user processes", pid, comm);
		return -1;
	}
	/* A main thread that has exited before the others is also what a
	 * process being killed looks like for a moment: look again. */
	for (int i = 0; i < 10 && (state == 'Z' || state == 'X') && live_threads(pid) > 0; i++) {
		usleep(10000);
		if (stat_state(pid, &state, &flags, comm, sizeof(comm)) < 0) {
			snprintf(err, errlen, "PID %d exited while leaktrap looked at it", pid);
			return -1;
		}
	}
	if ((state == 'Z' || state == 'X') && live_threads(pid) > 0) {
		/* its memory is reachable only through the other threads */
		snprintf(err, errlen, "PID %d (%s): its main thread has exited (pthread_exit) while its "
			 "other threads run; leaktrap cannot attach to such a process yet", pid, comm);
		return -1;
	}
	if (state == 'Z' || state == 'X') {
		snprintf(err, errlen, "PID %d (%s) is a zombie: it has exited and holds no memory", pid, comm);
		return -1;
	}
	if (target_status_field(pid, "Tgid") != pid) {
		snprintf(err, errlen, "PID %d is a thread of process %ld: give the process ID",
			 pid, target_status_field(pid, "Tgid"));
		return -1;
	}
	long tracer = target_status_field(pid, "TracerPid");
	if (tracer > 0) {
		char tcomm[64] = "?";
		unsigned long tf;
		char ts;
		stat_state((pid_t)tracer, &ts, &tf, tcomm, sizeof(tcomm));
		snprintf(err, errlen, "PID %d is already traced by PID %ld (%s): detach that tool first",
			 pid, tracer, tcomm);
		return -1;
	}
	if (exe_class(pid) == ELFCLASS32) {
		snprintf(err, errlen, "PID %d (%s) is a 32-bit process: leaktrap supports 64-bit processes only",
			 pid, comm);
		return -1;
	}
	return 0;
}

struct thread *target_thread(struct target *t, pid_t tid)
{
	for (size_t i = 0; i < t->nth; i++)
		if (t->th[i].tid == tid)
			return &t->th[i];
	return NULL;
}

struct thread *target_add(struct target *t, pid_t tid, enum stop_kind stop)
{
	struct thread *th = target_thread(t, tid);
	if (th)
		return th;
	if (t->nth == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		struct thread *n = realloc(t->th, cap * sizeof(*n));
		if (!n)
			return NULL;
		t->th = n;
		t->cap = cap;
	}
	th = &t->th[t->nth++];
	memset(th, 0, sizeof(*th));
	th->tid = tid;
	th->stop = stop;
	return th;
}

void target_remove(struct target *t, pid_t tid)
{
	for (size_t i = 0; i < t->nth; i++)
		if (t->th[i].tid == tid) {
			t->th[i] = t->th[--t->nth];
			return;
		}
}

/* Seizes the threads listed in /proc/PID/task that are not yet known;
 * returns how many were added, or -errno if the process is gone. */
static int seize_new_threads(struct target *t)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task", t->pid);
	DIR *d = opendir(path);
	if (!d)
		return -errno;
	int added = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		pid_t tid = (pid_t)strtol(de->d_name, NULL, 10);
		if (tid <= 0 || target_thread(t, tid))
			continue;
		if (ptrace(PTRACE_SEIZE, tid, 0, SEIZE_OPTIONS) < 0) {
			/* ESRCH: it exited meanwhile. EPERM: an earlier thread's
			 * clone already auto-attached it to us. */
			if (errno == ESRCH || (errno == EPERM && target_status_field(tid, "TracerPid") == getpid()))
				continue;
			if (errno == EPERM && added == 0 && t->nth == 0) {
				closedir(d);
				return -EPERM;
			}
			continue;
		}
		if (!target_add(t, tid, STOP_RUNNING)) {
			closedir(d);
			return -ENOMEM;
		}
		added++;
	}
	closedir(d);
	return added;
}

int target_seize(struct target *t, pid_t pid, char *err, size_t errlen)
{
	memset(t, 0, sizeof(*t));
	t->pid = pid;
	t->memfd = -1;
	if (check_pid(pid, err, errlen) < 0)
		return -1;
	/* Threads created while we list the task directory are either seized
	 * by the next pass or auto-attached through PTRACE_O_TRACECLONE. */
	int r;
	do
		r = seize_new_threads(t);
	while (r > 0);
	if (r == -EPERM && !target_exited(pid, true)) {	/* a dying thread refuses too */
		explain_eperm(pid, err, errlen);
		return -1;
	}
	if (r < 0 || t->nth == 0) {
		snprintf(err, errlen, "PID %d exited while leaktrap attached", pid);
		target_detach_all(t);
		return -1;
	}
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	t->memfd = open(path, O_RDWR | O_CLOEXEC);
	if (t->memfd < 0) {
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

void target_note_stop(struct thread *th, int status)
{
	int sig = WSTOPSIG(status), event = status >> 16;
	th->regs_ok = false;
	th->sig = 0;
	th->event = 0;
	/* Any ptrace-stop consumes a pending PTRACE_INTERRUPT (the kernel's
	 * ptrace_stop() clears JOBCTL_TRAP_STOP): if this is not the interrupt's
	 * own stop, none will follow, and the thread must be interrupted again. */
	th->interrupted = false;
	if (event == PTRACE_EVENT_STOP) {
		/* A group-stop reports the stop signal; PTRACE_INTERRUPT and a
		 * new tracee's first stop report SIGTRAP. */
		if (sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU) {
			th->stop = STOP_GROUP;
			th->sig = sig;
		} else {
			th->stop = STOP_INTERRUPT;
		}
	} else if (event) {
		th->stop = STOP_EVENT;
		th->event = event;
		ptrace(PTRACE_GETEVENTMSG, th->tid, 0, &th->msg);
	} else if (sig == (SIGTRAP | 0x80)) {
		th->stop = STOP_SYSCALL;
	} else {
		th->stop = STOP_SIGNAL;
		th->sig = sig;
	}
}

struct arch_regs *target_regs(struct thread *th)
{
	if (!th->regs_ok) {
		if (arch_regs_get(th->tid, &th->regs) < 0)
			return NULL;
		th->regs_ok = true;
	}
	return &th->regs;
}

int target_set_regs(struct thread *th, const struct arch_regs *r)
{
	int e = arch_regs_set(th->tid, r);
	if (e == 0) {
		th->regs = *r;
		th->regs_ok = true;
	}
	return e;
}

int target_resume(struct thread *th)
{
	long r;
	if (th->stop == STOP_RUNNING)
		return 0;
	if (th->stop == STOP_GROUP)
		r = ptrace(PTRACE_LISTEN, th->tid, 0, 0);
	else
		r = ptrace(PTRACE_CONT, th->tid, 0, th->stop == STOP_SIGNAL ? th->sig : 0);
	if (r < 0)
		return -errno;
	th->stop = STOP_RUNNING;
	th->regs_ok = false;
	return 0;
}

int target_step(struct thread *th)
{
	enum stop_kind kind = th->stop;
	int sig = th->sig, st;
	if (ptrace(PTRACE_SINGLESTEP, th->tid, 0, 0) < 0)
		return -errno;
	while (waitpid(th->tid, &st, __WALL) < 0)
		if (errno != EINTR)
			return -errno;
	if (!WIFSTOPPED(st))
		return -ESRCH;
	th->regs_ok = false;
	if (WSTOPSIG(st) != SIGTRAP || (st >> 16)) {
		/* A signal (or a stop) came first, and the step may not have
		 * run: this stop is the thread's now. A signal it already had
		 * pending goes back to the kernel, to come again later. */
		if (kind == STOP_SIGNAL && sig)
			syscall(SYS_tkill, th->tid, sig);
		target_note_stop(th, st);
		return -EAGAIN;
	}
	/* The step ends in a SIGTRAP signal-delivery-stop: swallow it, and
	 * keep whatever signal the thread had pending before. A thread that
	 * was in an interrupt- or group-stop is now in a signal-stop, which
	 * resumes the same way with no signal. */
	th->stop = STOP_SIGNAL;
	th->sig = kind == STOP_SIGNAL ? sig : 0;
	return 0;
}

int target_interrupt_all(struct target *t)
{
	int n = 0;
	for (size_t i = 0; i < t->nth; i++) {
		struct thread *th = &t->th[i];
		/* Listening (group-stopped) threads count as running here: they
		 * must be interrupted too before their registers can be read, and
		 * they report the group-stop again, to be resumed with LISTEN. */
		if (th->stop != STOP_RUNNING || th->interrupted)
			continue;
		if (ptrace(PTRACE_INTERRUPT, th->tid, 0, 0) == 0) {
			th->interrupted = true;
			n++;
		}
	}
	return n;
}

void target_detach_all(struct target *t)
{
	for (size_t i = 0; i < t->nth; i++) {
		struct thread *th = &t->th[i];
		/* A group-stopped thread is put back into the group-stop by the
		 * kernel on detach (__ptrace_unlink re-arms JOBCTL_STOP_PENDING). */
		ptrace(PTRACE_DETACH, th->tid, 0, th->stop == STOP_SIGNAL ? th->sig : 0);
	}
	t->nth = 0;
}

int target_read(struct target *t, taddr_t addr, void *buf, size_t len)
{
	struct iovec local = { buf, len }, remote = { (void *)(uintptr_t)addr, len };
	ssize_t n = process_vm_readv(t->pid, &local, 1, &remote, 1, 0);
	if (n == (ssize_t)len)
		return 0;
	/* process_vm_readv refuses some mappings (e.g. VM_IO); /proc/PID/mem does not. */
	if (t->memfd >= 0 && pread(t->memfd, buf, len, (off_t)addr) == (ssize_t)len)
		return 0;
	return n < 0 ? -errno : -EFAULT;
}

int target_read_strided(struct target *t, taddr_t addr, size_t stride, size_t len, int n, void *buf)
{
	struct iovec local[TARGET_STRIDED_MAX], remote[TARGET_STRIDED_MAX];
	if (n < 1 || n > TARGET_STRIDED_MAX || len > stride)
		return -EINVAL;
	for (int k = 0; k < n; k++) {
		local[k] = (struct iovec){ (uint8_t *)buf + (size_t)k * stride, len };
		remote[k] = (struct iovec){ (void *)(uintptr_t)(addr + (taddr_t)k * stride), len };
	}
	ssize_t got = process_vm_readv(t->pid, local, n, remote, n, 0);
	if (got == (ssize_t)(len * (size_t)n))
		return 0;
	for (int k = 0; k < n; k++) {	/* what process_vm_readv refuses, one by one */
		int rc = target_read(t, addr + (taddr_t)k * stride, (uint8_t *)buf + (size_t)k * stride, len);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int target_write(struct target *t, taddr_t addr, const void *buf, size_t len)
{
	struct iovec local = { (void *)buf, len }, remote = { (void *)(uintptr_t)addr, len };
	if (process_vm_writev(t->pid, &local, 1, &remote, 1, 0) == (ssize_t)len)
		return 0;
	return target_write_code(t, addr, buf, len);
}

int target_writev(struct target *t, const struct target_piece *p, int n)
{
	struct iovec local[TARGET_STRIDED_MAX], remote[TARGET_STRIDED_MAX];
	size_t total = 0;
	if (n < 1 || n > TARGET_STRIDED_MAX)
		return -EINVAL;
	for (int k = 0; k < n; k++) {
		local[k] = (struct iovec){ (void *)p[k].buf, p[k].len };
		remote[k] = (struct iovec){ (void *)(uintptr_t)p[k].addr, p[k].len };
		total += p[k].len;
	}
	if (process_vm_writev(t->pid, local, n, remote, n, 0) == (ssize_t)total)
		return 0;
	for (int k = 0; k < n; k++) {
		int rc = target_write(t, p[k].addr, p[k].buf, p[k].len);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int target_write_code(struct target *t, taddr_t addr, const void *buf, size_t len)
{
	if (t->memfd < 0)
		return -EBADF;
	ssize_t n = pwrite(t->memfd, buf, len, (off_t)addr);
	if (n == (ssize_t)len)
		return 0;
	return n < 0 ? -errno : -EIO;
}

void target_release(struct target *t)
{
	free(t->th);
	t->th = NULL;
	t->nth = t->cap = 0;
	if (t->memfd >= 0)
		close(t->memfd);
	t->memfd = -1;
}
