#!/bin/bash
# target_exits: the target ends while leaktrap is reporting on it.
# 1. leak_single (--every) is told to exit with status 3 mid-session: the
#    report is still printed, exact, with "target_end": "exited with status
#    3", and leaktrap exits 0.
# 2. leak_threads (4 threads churning, --every) exits 0 mid-session:
#    exit_group while threads sit in leaktrap's traps; "exited with status
#    0", leaktrap exits 0.
# 3. churn_mt (8 threads) is killed with SIGKILL mid-session: the report is
#    still printed with a non-null target_end, and leaktrap exits 0.
# leaktrap must end within 15s of the target's end (logged: how soon).
. "$(dirname "$0")/lib.sh"

end_seen() {    # end_seen WANT_REGEX
	local te
	te=$(check get "$LTOUT" target_end)
	log "target_end: $te"
	printf '%s' "$te" | grep -Eq "$1" || fail "target_end is $te, wanted $1"
}

start_target leak_single 3
start_lt report -p "$TPID" --every --duration 60s --top 0 --format json
go_target 20
kill -TERM "$TPID"
t0=$(date +%s%N)
wait_exit "$TPID" 20 || fail "leak_single did not exit within 20s of SIGTERM while attached"
[ "${STATUS:-}" = 3 ] || fail "leak_single exited with status ${STATUS:-?}, wanted 3"
wait_lt 20
log "leaktrap ended $(( ($(date +%s%N) - t0) / 1000000 )) ms after the target was told to exit"
expect_lt_ok && {
	check_report "$TPID" --every --all-groups
	end_seen '^"exited with status 3"$'
	check_sites "$TOUT" --src leak_single.c
}

start_target leak_threads
start_lt report -p "$TPID" --every --duration 60s --top 0 --format json
go_target 20
sleep 0.3
kill -TERM "$TPID"
wait_exit "$TPID" 20 || fail "leak_threads did not exit within 20s of SIGTERM while attached"
[ "${STATUS:-}" = 0 ] || fail "leak_threads exited with status ${STATUS:-?}, wanted 0"
wait_lt 20
expect_lt_ok && {
	check_report "$TPID" --every --all-groups
	end_seen '^"exited with status 0"$'
}

start_target churn_mt 8
start_lt report -p "$TPID" --duration 60s --format json
sleep 0.5
kill -KILL "$TPID"
wait_exit "$TPID" 20 || fail "churn_mt did not die within 20s of SIGKILL while attached"
wait_lt 20
expect_lt_ok && {
	check_report "$TPID"
	end_seen '^"[^"]+"$'
}
finish
