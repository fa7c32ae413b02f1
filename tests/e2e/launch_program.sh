#!/bin/bash
# launch_program: `leaktrap -- PROGRAM` hooks the program before its first
# instruction, so nothing is missed.
#  1. report --every -- leak_at_start 5: the allocations made by a
#     constructor and by main's first statement are all in the report,
#     exactly; target_end is "exited with status 5"; leaktrap exits 0; the
#     program's own output reaches leaktrap's stdout.
#  2. -- PROGRAM that does not exist: one line naming it, exit 1.
#  3. the shell's commands with -- leak_steady: 'live by site' after it
#     leaked; on quit leaktrap detaches and says the program keeps running;
#     it is untraced, does its work and exits on SIGTERM.
. "$(dirname "$0")/lib.sh"

REPORT=$T/report.json
run_lt 60 report --every --format json -o "$REPORT" -- "$TARGETS/leak_at_start" 5
[ "$LTRC" = 0 ] || fail "report -- leak_at_start 5: exit $LTRC: $(grep -v hooks "$LTERR" | head -3)"
grep -q '^done$' "$LTOUT" || fail "the program's output did not reach leaktrap's stdout"
grep -q 'started .*leak_at_start as PID' "$LTERR" || fail "no 'started ... as PID' on stderr"
TRUTH=$LTOUT
LTOUT=$REPORT
pid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pid"])' "$REPORT")
check_report "$pid" --every --all-groups
check_sites "$TRUTH" --src leak_at_start.c
end=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["target_end"])' "$REPORT")
[ "$end" = "exited with status 5" ] || fail "target_end is '$end', wanted 'exited with status 5'"

run_lt 30 report -- "$T/no-such-program" arg
[ "$LTRC" = 1 ] || fail "missing program: exit $LTRC, wanted 1"
[ "$(grep -c '' "$LTERR")" = 1 ] && grep -q "^leaktrap: .*no-such-program" "$LTERR" ||
	fail "missing program: wanted one line naming it: $(cat "$LTERR")"

SEQ=$((SEQ + 1)); LTOUT=$T/lt.$SEQ.out; LTERR=$T/lt.$SEQ.err
$LTENV "$LT" -ex 'sleep 1500ms' -ex 'live by site' -ex quit -- "$TARGETS/leak_steady" \
	>"$LTOUT" 2>"$LTERR" </dev/null &
LTPID=$!
STARTED="$STARTED $LTPID"
wait_line "$LTOUT" '^ready [0-9]+$' 20 "$LTPID" || die "leak_steady under leaktrap did not say ready"
TPID=$(awk '/^ready/ { print $2; exit }' "$LTOUT")
STARTED="$STARTED $TPID"
TOUT=$LTOUT
kill -USR1 "$TPID"
wait_lt 60
[ "$LTRC" = 0 ] || fail "shell -- leak_steady: exit $LTRC: $(grep -v hooks "$LTERR" | head -3)"
grep -Eq '^ +1 .* (cache_fill|big_buffer|leak_steady) ' "$LTOUT" ||
	fail "live by site does not show leak_steady's sites: $(grep -A4 '^live by site' "$LTOUT")"
grep -q 'keeps running without leaktrap' "$LTERR" || fail "no 'keeps running' note on stderr"
untraced "$TPID"
wait_line "$TOUT" '^done$' 20 "$TPID" || fail "leak_steady did not finish its work after leaktrap left"
# leaktrap's child, orphaned when it left: its status is init's to collect,
# so check that SIGTERM ends it (it exits 0 on SIGTERM, any fault would show
# as a missing "done" above or a process that stays).
kill -TERM "$TPID"
wait_exit "$TPID" 20 || fail "leak_steady did not exit within 20s of SIGTERM"
finish
