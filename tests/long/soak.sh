#!/bin/bash
# soak: one long session at a 4 KiB sampling interval on a churning target.
# churn_mt (8 threads of malloc/calloc/realloc/free, every byte of every
# block checked before it is freed) runs under
#   leaktrap report --sample-interval 4k --duration SOAK_S (default 600)
# with the default engine. Every second the test reads leaktrap's resident
# memory; it must stay bounded: the peak of the second half of the sampling
# may exceed the peak of the first half by at most 16 MiB (the log prints
# both, and the peak while the report is made). At the end: leaktrap exits 0 with a JSON report; a free that was
# lost without being counted would leave its block live in the report for
# good, so the estimated live bytes must not exceed the most churn_mt can
# hold (8 x 1024 blocks of at most 4 KiB: 32 MiB) unless the report counts
# frees lost (frees_lost), and the events dropped and frees lost are
# printed. The code is byte-identical afterwards, and on SIGTERM
# churn_mt exits 0: no block was corrupted.
. "$(dirname "$0")/../e2e/lib.sh"

SOAK_S=${SOAK_S:-600}

rss_kib() {
	local k v u
	while read -r k v u; do
		[ "$k" = VmRSS: ] && { printf '%s' "$v"; return 0; }
	done 2>/dev/null < <(cat "/proc/$1/status" 2>/dev/null)
	printf 0
}

start_target churn_mt 8
snap "$TPID" before
start_lt report -p "$TPID" --sample-interval 4k --duration "${SOAK_S}s" --format json
# resident memory while sampling (the report at the end loads debug
# information: that peak is logged apart)
first=0 second=0 last=0 n=0
now_ms; end=$((NOW_MS + SOAK_S * 1000))
while alive "$LTPID"; do
	r=$(rss_kib "$LTPID")
	now_ms
	if [ $((end - NOW_MS)) -gt $((SOAK_S * 500)) ]; then
		[ "$r" -gt "$first" ] && first=$r
	elif [ "$NOW_MS" -lt "$end" ]; then
		[ "$r" -gt "$second" ] && second=$r
	else
		[ "$r" -gt "$last" ] && last=$r
	fi
	n=$((n + 1))
	[ $((n % 60)) = 0 ] && log "leaktrap resident: $r KiB"
	alive "$TPID" || die "churn_mt died during the soak: $(tail -3 "$TERR")"
	sleep 1
done
# at nice 19 beside the arm64 VM suites (tests/run.sh), the report at the
# end gets what CPU the VMs leave: minutes, at worst
slack=5
[ "$(nice)" -gt 0 ] && slack=300
wait_lt $((slack + 115))
[ "$last" -gt 0 ] && log "leaktrap peak resident while reporting: $last KiB"
took_about "$SOAK_S" "$slack"
log "leaktrap peak resident: first half $first KiB, second half $second KiB"
[ "$first" -gt 0 ] && [ "$second" -gt 0 ] || fail "could not read leaktrap's resident memory"
[ "$second" -le $((first + 16384)) ] ||
	fail "leaktrap's memory grew by $((second - first)) KiB in the second half of the soak"
if expect_lt_ok; then
	check_report "$TPID"
	grep -E 'detached|dropped' "$LTERR"
	python3 - "$LTOUT" <<'PY' || fail "the report's live set is larger than churn_mt can hold, and no free was reported lost"
import json, sys
r = json.load(open(sys.argv[1]))
t = r["totals"]
print("report: %.0f bytes live (estimated) in %d samples; %d frees of sampled blocks seen; "
      "%d sampled allocations dropped, %d frees lost"
      % (t["bytes"], t["samples"], t["frees_seen"], t["dropped"], t["frees_lost"]))
# a lost free (counted) leaves its block live for good: then the bound may not hold
sys.exit(0 if t["bytes"] <= 8 * 1024 * 4096 or t["frees_lost"] else 1)
PY
fi
untraced "$TPID"
same_code "$TPID" before
stop_target "$TPID" 0
grep '^ops' "$TOUT"
[ -s "$TERR" ] && { fail "churn_mt complained:"; head -5 "$TERR"; }
finish
