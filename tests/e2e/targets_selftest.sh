#!/bin/bash
# targets_selftest: the targets themselves, without leaktrap. Each one must
# follow the protocol (ready, SIGUSR1, truth lines, done, SIGTERM) and exit
# with its documented status; segv_handler must handle every fault, forker's
# children must all succeed, churn_mt's integrity checks must pass (also in
# its fixed-iteration mode, which prints its wall time). If this fails, the
# other tests' verdicts mean nothing: fix the harness first.
NEED_LT=0
. "$(dirname "$0")/lib.sh"

protocol() {     # protocol TARGET [ARGS...]: the whole protocol, exit 0
	start_target "$@"
	go_target 60
	grep -Eq '^(site|bound) ' "$TOUT" || fail "$1 printed no truth lines"
	stop_target "$TPID" 0
	[ -s "$TERR" ] && { fail "$1 wrote on stderr:"; head -5 "$TERR"; }
	return 0
}

protocol leak_single
protocol leak_threads
protocol leak_variants
protocol leak_cxx
protocol segv_handler 500 3
grep -E '^faults attempted' "$TOUT"
protocol forker 3
grep -q '^children ok$' "$TOUT" || fail "forker: $(grep -E '^(FAIL|children)' "$TOUT")"
protocol thread_churn

protocol leak_many 2000

start_target blocked_syscalls
sleep 0.2
go_target 20
[ "$(grep -c '^syscall .* ok$' "$TOUT")" = 9 ] || fail "blocked_syscalls: $(grep -E '^(syscall|eintr)' "$TOUT" | tr '\n' '|')"
grep -q '^eintr' "$TOUT" && fail "blocked_syscalls saw EINTR with no tracer: $(grep '^eintr' "$TOUT")"
stop_target "$TPID" 0

start_target leak_single 3
go_target 20
stop_target "$TPID" 3          # leak_single EXIT_STATUS

start_target churn_mt 4
sleep 1
stop_target "$TPID" 0
grep -Eq '^ops [1-9][0-9]* errors 0$' "$TOUT" || fail "churn_mt: $(cat "$TOUT" "$TERR")"

timeout 60 "$TARGETS/churn_mt" 2 iters 200000 >"$T/iters.out" 2>&1 || fail "churn_mt 2 iters 200000 failed: $(cat "$T/iters.out")"
grep -Eq '^threads 2 iters 200000 wall_s [0-9.]+ ns_per_op [0-9.]+$' "$T/iters.out" ||
	fail "churn_mt iters mode printed: $(cat "$T/iters.out")"
cat "$T/iters.out"

start_target churn_mt 2 iters 100000 wait
kill -USR1 "$TPID"
wait_exit "$TPID" 30 || fail "churn_mt iters wait: did not finish"
[ "${STATUS:-}" = 0 ] || fail "churn_mt iters wait: exit ${STATUS:-?}"
grep -q '^threads 2 iters 100000' "$TOUT" || fail "churn_mt iters wait printed: $(cat "$TOUT")"

start_target churn_mt 2 1
wait_exit "$TPID" 30 || fail "churn_mt 2 1 did not end after its second"
[ "${STATUS:-}" = 0 ] || fail "churn_mt 2 1: exit ${STATUS:-?}"

start_target demo_leak
sleep 0.5
stop_target "$TPID" 0
finish
