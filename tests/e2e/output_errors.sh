#!/bin/bash
# output_errors: nothing gathered is lost when the report cannot be written.
# On leak_single (its leaks made while attached, --every):
#  - -o into a full disk (a 16 KiB tmpfs filled up): one line says the
#    write failed, the report goes to standard
#    output instead (valid JSON naming leak_a), exit 1;
#  - a closed standard output (the reader of the pipe is gone): the report
#    is saved to /tmp/leaktrap-PID-*.txt and stderr says where, exit 1;
#  - -o to a directory that does not exist: refused before attaching, exit 1;
#  - in the shell, export to an unwritable path is one error line, and the
#    next command still runs.
# The target stays untraced with identical code, and exits 0.
. "$(dirname "$0")/lib.sh"

start_target leak_single
snap "$TPID" before
mkdir -p "$T/full"
mount -t tmpfs -o size=16k tmpfs "$T/full" || skip "cannot mount a tmpfs here"
trap 'umount "$T/full" 2>/dev/null; _cleanup' EXIT
head -c 1M /dev/zero >"$T/full/filler" 2>/dev/null	# the disk is full now

start_lt report -p "$TPID" --every --duration 3s --format json --top 0 -o "$T/full/report.json"
go_target 20
wait_lt 30
[ "$LTRC" = 1 ] || fail "full disk: exit $LTRC, wanted 1"
grep -q "cannot write the report to $T/full/report.json" "$LTERR" || fail "full disk: no error line: $(cat "$LTERR")"
grep -q "went to standard output instead" "$LTERR" || fail "full disk: no word of the fallback"
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert any(f["func"]=="leak_a" for g in r["groups"] for f in g["frames"])' "$LTOUT" ||
	fail "full disk: standard output does not hold the JSON report with leak_a"
untraced "$TPID"

SEQ=$((SEQ + 1)); LTERR=$T/lt.$SEQ.err
rm -f /tmp/leaktrap-"$TPID"-*.txt
{ $LTENV "$LT" report -p "$TPID" --duration 1s 2>"$LTERR"; echo $? >"$T/rc"; } | true
for i in $(seq 1 100); do [ -s "$T/rc" ] && break; sleep 0.1; done
[ "$(cat "$T/rc")" = 1 ] || fail "closed stdout: exit $(cat "$T/rc"), wanted 1"
saved=$(sed -n 's/.*the report was saved to \(.*\)$/\1/p' "$LTERR")
[ -n "$saved" ] && [ -s "$saved" ] && grep -q 'allocations in '"$TPID" "$saved" ||
	fail "closed stdout: the report was not saved where stderr says: $(cat "$LTERR")"
rm -f "$saved"
untraced "$TPID"

run_lt 30 report -p "$TPID" --duration 1s -o "$T/no/such/dir/r.txt"
[ "$LTRC" = 1 ] && [ "$(grep -c '' "$LTERR")" = 1 ] || fail "-o into a missing directory: exit $LTRC: $(cat "$LTERR")"
grep -q 'hooks active' "$LTERR" && fail "-o into a missing directory: leaktrap attached first"

run_lt 30 -p "$TPID" -ex "export json $T/no/such/dir/x.json" -ex 'set on-error continue' -ex 'status'
grep -q "cannot write $T/no/such/dir/x.json" "$LTERR" || fail "export to a missing directory: no error line"

untraced "$TPID"
same_code "$TPID" before
stop_target "$TPID" 0
finish
