#!/bin/bash
# agent_sessions: the agent engine holds no ptrace while it samples.
# - leak_threads, --sample-interval 64k, a 3 s session: while it runs, the
#   target and every thread have TracerPid 0 and keep running (no trace
#   stop); the top site is leak_big; status says engine agent; code
#   identical after detach; the target exits 0.
# - 20 attach/report/detach cycles on churn_mt (8 threads checking every
#   byte), alternating default sampling and 4 KiB: each exits 0, the target
#   stays untraced and uncorrupted, its code identical at the end.
export LEAKTRAP_ENGINE=agent
. "$(dirname "$0")/lib.sh"

start_target leak_threads
snap "$TPID" before
start_lt -p "$TPID" --sample-interval 64k -ex 'sleep 3s' -ex 'status' -ex 'live by site top 3'
kill -USR1 "$TPID"
sleep 1
untraced "$TPID"
log "TracerPid of $TPID and its threads is 0 while sampling"
wait_lt 30
[ "$LTRC" = 0 ] || fail "leaktrap exited $LTRC: $(grep -v hooks "$LTERR" | head -3)"
grep -q '^engine: *agent' "$LTOUT" || fail "status does not say engine agent"
grep -Eq '^ +1 .*leak_big ' "$LTOUT" || fail "leak_big is not the top site: $(grep -A4 '^live by site' "$LTOUT")"
untraced "$TPID"
same_code "$TPID" before
wait_line "$TOUT" '^done$' 20 "$TPID" || fail "leak_threads did not finish its work"
stop_target "$TPID" 0

start_target churn_mt 8
snap "$TPID" before
for i in $(seq 1 20); do
	if [ $((i % 2)) = 0 ]; then mode="--sample-interval 4k"; else mode=; fi
	run_lt 20 report -p "$TPID" --duration 300ms --format json $mode
	[ "$LTRC" = 0 ] && [ -s "$LTOUT" ] || { fail "cycle $i: exit $LTRC: $(tail -3 "$LTERR")"; break; }
	untraced "$TPID"
	alive "$TPID" || die "churn_mt died during cycle $i: $(tail -3 "$TERR")"
done
same_code "$TPID" before
stop_target "$TPID" 0
[ -s "$TERR" ] && { fail "churn_mt complained:"; head -5 "$TERR"; }
finish
