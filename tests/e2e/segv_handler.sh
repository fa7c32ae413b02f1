#!/bin/bash
# segv_handler: a process that takes SIGSEGV on purpose (like a JVM) keeps
# working while attached. segv_handler faults 200 times a second in each of
# 3 threads and recovers with siglongjmp, checking that every siginfo is
# genuine (si_code SEGV_ACCERR, si_addr the faulting address); every 8th
# iteration it also raises a SIGTRAP of its own, and four iterations later
# executes a breakpoint instruction of its own (int3, brk): both must reach
# its handler (leaktrap must not take them for its traps). Session 1
# (--every): faults go on while leaktrap attaches and detaches, the leak at
# leak_between_faults (600 x 64 B) is reported exactly. Session 2 (default
# sampling) at 1000 faults/s per thread. Each time: exit 0, code identical,
# and on SIGTERM the target exits 0: every attempted fault, every SIGTRAP
# and every breakpoint was handled.
. "$(dirname "$0")/lib.sh"

start_target segv_handler 200 3
snap "$TPID" before
start_lt report -p "$TPID" --every --duration 6s --top 0 --format json
go_target 6
alive "$LTPID" || fail "leaktrap ended before the target finished: --duration too short"
wait_lt 60
took_about 6
expect_lt_ok
untraced "$TPID"
same_code "$TPID" before
check_report "$TPID" --every --all-groups --duration 6
check_sites "$TOUT" --src segv_handler.c
sleep 0.5     # faults go on after detach
stop_target "$TPID" 0
grep -E "^(faults|traps|breakpoints)" "$TOUT"

start_target segv_handler 1000 3
snap "$TPID" before2
kill -USR1 "$TPID"
run_lt 60 report -p "$TPID" --duration 3s --format json
expect_lt_ok
took_about 3
untraced "$TPID"
same_code "$TPID" before2
wait_line "$TOUT" '^done$' 20 "$TPID" || fail "segv_handler did not finish its work"
stop_target "$TPID" 0
grep -E "^(faults|traps|breakpoints)" "$TOUT"
finish
