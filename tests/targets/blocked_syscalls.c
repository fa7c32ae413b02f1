/* blocked_syscalls: every thread sits in a blocking system call while a
 * tool attaches, injects, and detaches; each call must end as if nothing
 * had happened.
 *
 * Usage: blocked_syscalls
 * Threads block in: read (pipe), poll (pipe, no timeout), select (pipe),
 * epoll_wait (pipe, no timeout), pthread_cond_wait (futex), waitpid (a
 * child that waits for a signal), sigtimedwait (SIGUSR2, 1 hour), and a loop
 * of nanosleep(100 ms) and clock_nanosleep(TIMER_ABSTIME) checking each
 * return; the main thread is in sigwaitinfo for SIGUSR1. No signal handler
 * is installed, so no call may fail with EINTR or anything else, except
 * the ones that signal(7) says fail with EINTR after any stop even without
 * handlers (epoll_wait, sigtimedwait, sigwaitinfo: every ptrace attach does
 * that, gdb's too): those are retried and their EINTRs counted on an
 * "eintr NAME N" line (information, not failure). After
 * SIGUSR1 the main thread wakes every one (writes the pipes, signals the
 * condition, kills the child with SIGUSR2 so it exits 0, sends SIGUSR2 to
 * the sigtimedwait thread) and each reports one line:
 *   syscall NAME ok
 *   syscall NAME FAIL <what happened>
 * then "done". SIGTERM: exit 0 if every line said ok, 1 otherwise.
 */
#include <poll.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/wait.h>
#include "target.h"

static int p_read[2], p_poll[2], p_select[2], p_epoll[2];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int cv_go;
static volatile int sleep_stop;
static pid_t child;
static int failures;
static pthread_mutex_t out_mu = PTHREAD_MUTEX_INITIALIZER;

static void result(const char *name, const char *fmt, ...)
{
	char buf[256] = "";
	if (fmt) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(buf, sizeof buf, fmt, ap);
		va_end(ap);
	}
	pthread_mutex_lock(&out_mu);
	if (fmt) {
		failures++;
		say("syscall %s FAIL %s\n", name, buf);
	} else {
		say("syscall %s ok\n", name);
	}
	pthread_mutex_unlock(&out_mu);
}

static void *t_read(void *a)
{
	char c = 0;
	ssize_t n = read(p_read[0], &c, 1);
	if (n != 1 || c != 'r')
		result("read", "returned %zd (%s), byte 0x%02x", n, n < 0 ? strerror(errno) : "-", c);
	else
		result("read", NULL);
	return NULL;
}

static void *t_poll(void *a)
{
	struct pollfd pfd = { .fd = p_poll[0], .events = POLLIN };
	int n = poll(&pfd, 1, -1);
	if (n != 1 || !(pfd.revents & POLLIN))
		result("poll", "returned %d (%s), revents 0x%x", n, n < 0 ? strerror(errno) : "-", pfd.revents);
	else
		result("poll", NULL);
	return NULL;
}

static void *t_select(void *a)
{
	fd_set rd;
	FD_ZERO(&rd);
	FD_SET(p_select[0], &rd);
	int n = select(p_select[0] + 1, &rd, NULL, NULL, NULL);
	if (n != 1 || !FD_ISSET(p_select[0], &rd))
		result("select", "returned %d (%s)", n, n < 0 ? strerror(errno) : "-");
	else
		result("select", NULL);
	return NULL;
}

static void *t_epoll(void *a)
{
	int ep = epoll_create1(0);
	struct epoll_event ev = { .events = EPOLLIN }, out;
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, p_epoll[0], &ev)) {
		result("epoll_wait", "setup: %s", strerror(errno));
		return NULL;
	}
	int n, eintr = 0;
	while ((n = epoll_wait(ep, &out, 1, -1)) < 0 && errno == EINTR)
		eintr++;
	if (eintr)
		say("eintr epoll_wait %d\n", eintr);
	if (n != 1)
		result("epoll_wait", "returned %d (%s)", n, n < 0 ? strerror(errno) : "-");
	else
		result("epoll_wait", NULL);
	close(ep);
	return NULL;
}

static void *t_cond(void *a)
{
	pthread_mutex_lock(&mu);
	int r = 0;
	while (!cv_go && !r)
		r = pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	if (r)
		result("pthread_cond_wait", "returned %d (%s)", r, strerror(r));
	else
		result("pthread_cond_wait", NULL);
	return NULL;
}

static void *t_waitpid(void *a)
{
	int st = 0;
	pid_t r = waitpid(child, &st, 0);
	if (r != child || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		result("waitpid", "returned %d (%s), status 0x%x", (int)r, r < 0 ? strerror(errno) : "-", st);
	else
		result("waitpid", NULL);
	return NULL;
}

static void *t_sigtimedwait(void *a)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	struct timespec ts = { 3600, 0 };
	int s, eintr = 0;
	while ((s = sigtimedwait(&set, NULL, &ts)) < 0 && errno == EINTR)
		eintr++;      /* restarts the hour: fine, SIGUSR2 comes soon */
	if (eintr)
		say("eintr sigtimedwait %d\n", eintr);
	if (s != SIGUSR2)
		result("sigtimedwait", "returned %d (%s)", s, s < 0 ? strerror(errno) : "-");
	else
		result("sigtimedwait", NULL);
	return NULL;
}

static void *t_sleep(void *a)
{
	long bad = 0, rounds = 0;
	int err = 0;
	while (!sleep_stop) {
		struct timespec ts = { 0, 100 * 1000000L };
		double t0 = now_s();
		int r = nanosleep(&ts, NULL);
		double dt = now_s() - t0;
		if (r || dt < 0.099) {
			bad++;
			err = r ? errno : 0;
		}
		struct timespec abs;
		clock_gettime(CLOCK_MONOTONIC, &abs);
		abs.tv_nsec += 50 * 1000000L;
		if (abs.tv_nsec >= 1000000000L) {
			abs.tv_sec++;
			abs.tv_nsec -= 1000000000L;
		}
		r = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &abs, NULL);
		if (r) {
			bad++;
			err = r;
		}
		rounds++;
	}
	if (bad)
		result("nanosleep", "%ld of %ld rounds woke early or failed (last error: %s)",
		       bad, rounds, err ? strerror(err) : "none, woke early");
	else
		result("nanosleep", NULL);
	return NULL;
}

int main(void)
{
	if (pipe(p_read) || pipe(p_poll) || pipe(p_select) || pipe(p_epoll))
		return 99;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	child = fork();
	if (child < 0)
		return 99;
	if (child == 0) {
		sigset_t s2;
		sigemptyset(&s2);
		sigaddset(&s2, SIGUSR2);
		int got;
		sigwait(&s2, &got);
		_exit(0);
	}

	void *(*fns[])(void *) = { t_read, t_poll, t_select, t_epoll, t_cond, t_waitpid,
				   t_sigtimedwait, t_sleep };
	enum { N = sizeof fns / sizeof fns[0] };
	pthread_t th[N];
	for (int i = 0; i < N; i++)
		if (pthread_create(&th[i], NULL, fns[i], NULL))
			return 99;
	announce_ready();

	siginfo_t si;
	int s, eintr = 0;
	while ((s = sigwaitinfo(&set, &si)) != SIGUSR1) {
		if (s < 0 && errno == EINTR) {
			eintr++;
			continue;
		}
		if (s < 0) {
			result("sigwaitinfo", "returned -1 (%s)", strerror(errno));
			continue;
		}
		if (s == SIGTERM) {
			say("target: SIGTERM before SIGUSR1\n");
			return 97;
		}
	}
	if (eintr)
		say("eintr sigwaitinfo %d\n", eintr);
	result("sigwaitinfo", NULL);

	if (write(p_read[1], "r", 1) != 1 || write(p_poll[1], "p", 1) != 1 ||
	    write(p_select[1], "s", 1) != 1 || write(p_epoll[1], "e", 1) != 1)
		return 99;
	pthread_mutex_lock(&mu);
	cv_go = 1;
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mu);
	kill(child, SIGUSR2);
	pthread_kill(th[6], SIGUSR2);
	sleep_stop = 1;
	for (int i = 0; i < N; i++)
		pthread_join(th[i], NULL);
	say("done\n");

	wait_signal(SIGTERM);
	return failures ? 1 : 0;
}
