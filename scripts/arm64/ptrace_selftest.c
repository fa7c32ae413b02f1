/*
 * ptrace_selftest: checks that a VM of scripts/arm64-vm.sh can do what
 * leaktrap does first: fork a child, PTRACE_SEIZE it, stop it with
 * PTRACE_INTERRUPT, read its registers (PTRACE_GETREGSET NT_PRSTATUS),
 * detach, and let it finish. Exits 0 if all of that worked, 1 otherwise,
 * saying which step failed. Build and run:
 *   mkdir -p build/arm64/selftest
 *   aarch64-linux-gnu-gcc -O2 -o build/arm64/selftest/ptrace_selftest \
 *       scripts/arm64/ptrace_selftest.c
 *   scripts/arm64-vm.sh run build/arm64/selftest -- ./ptrace_selftest
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

/* fail: prints what failed with errno's text, returns 1 (the exit status). */
static int fail(const char *what)
{
	fprintf(stderr, "ptrace_selftest: %s: %s\n", what, strerror(errno));
	return 1;
}

int main(void)
{
	int pipefd[2], status;
	char c;

	if (pipe(pipefd) != 0)
		return fail("pipe");
	pid_t pid = fork();
	if (pid < 0)
		return fail("fork");
	if (pid == 0) {		/* child: spin until the parent says go */
		close(pipefd[1]);
		while (read(pipefd[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(42);
	}
	close(pipefd[0]);
	if (ptrace(PTRACE_SEIZE, pid, 0, 0) != 0)
		return fail("PTRACE_SEIZE");
	if (ptrace(PTRACE_INTERRUPT, pid, 0, 0) != 0)
		return fail("PTRACE_INTERRUPT");
	if (waitpid(pid, &status, __WALL) != pid || !WIFSTOPPED(status))
		return fail("waitpid for the stop");

	struct user_regs_struct regs;
	struct iovec iov = { &regs, sizeof regs };
	if (ptrace(PTRACE_GETREGSET, pid, (void *)NT_PRSTATUS, &iov) != 0)
		return fail("PTRACE_GETREGSET NT_PRSTATUS");
	if (iov.iov_len != sizeof regs || regs.pc == 0 || regs.sp == 0) {
		errno = EINVAL;
		return fail("the registers read back");
	}
	printf("child %d stopped at pc=%#llx sp=%#llx\n", pid,
	       (unsigned long long)regs.pc, (unsigned long long)regs.sp);

	if (ptrace(PTRACE_DETACH, pid, 0, 0) != 0)
		return fail("PTRACE_DETACH");
	if (write(pipefd[1], "g", 1) != 1)
		return fail("write to the child");
	if (waitpid(pid, &status, 0) != pid)
		return fail("waitpid for the exit");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 42) {
		errno = EINVAL;
		return fail("the child's exit status");
	}
	printf("ptrace ok\n");
	return 0;
}
