#!/bin/bash
# agent_exec: a target that execs itself while the agent engine samples it.
# exec_self leaks 40 x 2000 B at leak_first, then execve()s itself; the new
# image leaks 60 x 3000 B at leak_second. leaktrap (--every) notices the
# vanished region, forgets the old heap, hooks the new image and reports
# leak_second exactly, leak_first not at all; status counts one execve
# re-hooked; leaktrap exits 0; the target exits 0 on SIGTERM.
# Then forker (fork, system, popen, posix_spawn, vfork) under the agent
# engine: every child exits as expected.
export LEAKTRAP_ENGINE=agent
. "$(dirname "$0")/lib.sh"

start_target exec_self
start_lt -p "$TPID" --every -ex "sleep $(dur 3)s" -ex 'status' -ex 'export json '"$T/after.json"' top 0'
kill -USR1 "$TPID"
wait_lt 30
[ "$LTRC" = 0 ] || fail "leaktrap exited $LTRC: $(grep -v hooks "$LTERR" | head -3)"
grep -q '1 execve re-hooked' "$LTOUT" || fail "status does not count one execve re-hooked: $(grep '^ring' "$LTOUT")"
wait_line "$TOUT" '^done$' 10 "$TPID" || fail "exec_self's second image did not finish"
LTOUT=$T/after.json
check_sites "$TOUT" --src exec_self.c
untraced "$TPID"
stop_target "$TPID" 0

start_target forker 10
start_lt report -p "$TPID" --every --duration "$(dur 8)s" --top 0 --format json
go_target "$(dur 8)"
grep -q '^children ok$' "$TOUT" || fail "forker's children failed: $(grep -E '^(FAIL|children)' "$TOUT" | head -10)"
wait_lt 60
expect_lt_ok
untraced "$TPID"
stop_target "$TPID" 0
finish
