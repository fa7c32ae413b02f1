#!/bin/bash
# forker: children made while attached are left clean. While leaktrap is
# attached with --every, forker runs 10 rounds of fork (child mallocs and
# frees 100000 blocks with integrity checks and exits 7), system("true"),
# popen("echo hi"), posix_spawn(/bin/true), vfork+_exit(5) and vfork+exec.
# Every child must exit as expected (none killed by SIGTRAP or SIGSEGV from
# a hook left in its copy): forker prints "children ok". The parent's leak
# (leak_in_parent, 10 x 500 B) is reported exactly; exit 0; code identical;
# forker exits 0 on SIGTERM.
. "$(dirname "$0")/lib.sh"

start_target forker 10
snap "$TPID" before
start_lt report -p "$TPID" --every --duration "$(dur 10)s" --top 0 --format json
go_target "$(dur 10)"
alive "$LTPID" || fail "leaktrap ended before forker finished its rounds: --duration too short"
grep -q '^children ok$' "$TOUT" || fail "forker's children failed: $(grep -E '^(FAIL|children)' "$TOUT" | head -10)"
wait_lt 60
took_about "$(dur 10)"
expect_lt_ok
untraced "$TPID"
same_code "$TPID" before
check_report "$TPID" --every --all-groups --duration "$(dur 10)"
check_sites "$TOUT" --src forker.c
stop_target "$TPID" 0
finish
