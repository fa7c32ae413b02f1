#!/bin/bash
# thread_cycles: attach, sample and detach while 64 threads are created and
# destroyed all the time. thread_churn 64 creates batches of 64 threads
# that each run 200 malloc/free pairs and are joined, from start to exit;
# leaktrap runs 200 times with --duration 100ms, alternating default
# sampling and --every, so every attach has to catch threads being born
# and every detach threads dying. Every cycle must exit 0 within 20s with a
# JSON report and leave the target untraced and running (the log has the
# slowest cycle). At the end the code is byte-identical to before the first
# attach, and on SIGTERM thread_churn exits 0.
. "$(dirname "$0")/lib.sh"

CYCLES=${CYCLES:-200}

start_target thread_churn 64
go_target 30	# its measured leaks first: afterwards it churns until SIGTERM
snap "$TPID" before
t0=$(date +%s)
slowest=0
reports=
for i in $(seq 1 "$CYCLES"); do
	if [ $((i % 2)) = 0 ]; then mode=--every; else mode=; fi
	run_lt 20 report -p "$TPID" --duration 100ms --format json $mode
	[ "$LT_MS" -gt "$slowest" ] && slowest=$LT_MS
	if [ "$LTRC" != 0 ] || [ ! -s "$LTOUT" ]; then
		fail "cycle $i ($mode): leaktrap exited $LTRC after $LT_MS ms, report of $(wc -c <"$LTOUT") bytes; stderr:"
		tail -5 "$LTERR"
	fi
	reports="$reports $LTOUT"
	untraced "$TPID"
	alive "$TPID" || die "thread_churn died during cycle $i: $(tail -3 "$TERR")"
	[ "$FAILED" = 0 ] || break
done
log "$i cycles in $(( $(date +%s) - t0 ))s, slowest $slowest ms; threads now: $(ls /proc/$TPID/task | wc -l)"
json_reports "$TPID" cycle $reports || fail "some cycle printed a bad report"
same_code "$TPID" before
stop_target "$TPID" 0
[ -s "$TERR" ] && { fail "thread_churn complained:"; head -5 "$TERR"; }
finish
