#!/bin/bash
# cycles: 50 attach/report/detach cycles in a row on a busy target.
# churn_mt runs 8 threads of malloc/calloc/realloc/free with every block's
# content checked before it is freed. leaktrap runs 50 times with
# --duration 200ms, alternating default sampling and --every. Every cycle
# must exit 0 within 20s and print a JSON report, and leave the target
# untraced and running. At the end the code is byte-identical to before the
# first attach, and on SIGTERM churn_mt exits 0: no block was corrupted.
. "$(dirname "$0")/lib.sh"
CYCLES=${CYCLES:-50}

start_target churn_mt 8
snap "$TPID" before
t0=$(date +%s)
slowest=0
reports=
for i in $(seq 1 "$CYCLES"); do
	if [ $((i % 2)) = 0 ]; then mode=--every; else mode=; fi
	run_lt 20 report -p "$TPID" --duration 200ms --format json $mode
	[ "$LT_MS" -gt "$slowest" ] && slowest=$LT_MS
	if [ "$LTRC" != 0 ] || [ ! -s "$LTOUT" ]; then
		fail "cycle $i ($mode): leaktrap exited $LTRC after $LT_MS ms, report of $(wc -c <"$LTOUT") bytes; stderr:"
		tail -5 "$LTERR"
	fi
	reports="$reports $LTOUT"
	untraced "$TPID"
	alive "$TPID" || die "churn_mt died during cycle $i: $(tail -3 "$TERR")"
	[ "$FAILED" = 0 ] || break
done
log "$i cycles in $(( $(date +%s) - t0 ))s, slowest $slowest ms"
# every report is one JSON document for this pid (checked at the end: a busy
# target leaves little CPU for a python per cycle)
json_reports "$TPID" cycle $reports || fail "some cycle printed a bad report"
same_code "$TPID" before
stop_target "$TPID" 0
grep '^ops' "$TOUT"
[ -s "$TERR" ] && { fail "churn_mt complained:"; head -5 "$TERR"; }
finish
