#!/bin/bash
# blocked_syscalls: attaching and detaching leave blocking system calls
# alone. Every thread of blocked_syscalls sits in a blocking call (read,
# poll, select, epoll_wait, futex, waitpid, sigtimedwait, sigwaitinfo, and
# nanosleep/clock_nanosleep in a loop) while leaktrap attaches, injects its
# region, samples and detaches, twice (--every, then default sampling).
# No signal handler is installed, so every call must finish normally when
# woken afterwards: no EINTR, no stray error (such as errno 512 from a
# syscall restart lost to register injection), no early wake-up. The
# exceptions are the calls that signal(7) says fail with EINTR after any
# stop (epoll_wait, sigtimedwait, sigwaitinfo): gdb's attach does the same,
# so their EINTRs are only logged. Also: exit 0, code identical, target
# exits 0 on SIGTERM.
. "$(dirname "$0")/lib.sh"

start_target blocked_syscalls
sleep 0.3
snap "$TPID" before
run_lt 60 report -p "$TPID" --every --duration 1s --format json
expect_lt_ok
untraced "$TPID"
run_lt 60 report -p "$TPID" --duration 1s --format json
expect_lt_ok
untraced "$TPID"
same_code "$TPID" before
go_target 20
grep -E '^(syscall|eintr)' "$TOUT"
n=$(grep -c '^syscall .* ok$' "$TOUT")
[ "$n" = 9 ] || fail "$((9 - n)) of 9 blocking calls did not end normally: $(grep '^syscall .* FAIL' "$TOUT" | tr '\n' '|')"
stop_target "$TPID" 0
finish
