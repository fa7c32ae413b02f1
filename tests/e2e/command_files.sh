#!/bin/bash
# command_files: -x FILE, -x - (stdin), commands piped on stdin, and -ex, on
# leak_steady (leaking all along); each session ends detached with the
# target untouched.
#  - a file with comments, blank lines and a bad command at line 5 stops
#    there: "FILE:5: unknown grouping 'bogus' ..." on stderr, exit 1, and
#    line 6 never runs;
#  - the same file after `set on-error continue` runs line 6 too (exit 1
#    still: a command failed);
#  - a good file: exit 0, the outputs in order;
#  - -ex sequence: snapshot, sleep, diff, in order, exit 0; a bad -ex stops
#    the rest with "-ex 'CMD': ..." and exit 1;
#  - `-x -` and a plain pipe on stdin read the commands from stdin;
#  - -x of a missing file, a directory or a binary file: one line naming
#    it, exit 1, before attaching;
#  - a NUL byte at line 3 (past the first 512 bytes), an overlong line 2, a
#    file that ends inside a quote: line 1 runs, then "FILE:N: ..." names
#    the problem, exit 1.
. "$(dirname "$0")/lib.sh"

start_target leak_steady
snap "$TPID" before
kill -USR1 "$TPID"

printf '%s\n' '# a comment' 'status' '' 'live top 3   # trailing comment' \
	'live by bogus' 'snapshots' >"$T/bad"
run_lt 60 -p "$TPID" -x "$T/bad"
[ "$LTRC" = 1 ] || fail "bad file: exit $LTRC, wanted 1"
grep -q "^$T/bad:5: unknown grouping 'bogus'" "$LTERR" ||
	fail "bad file: no '$T/bad:5: unknown grouping' on stderr: $(grep -v hooks "$LTERR" | head -3)"
grep -q '^target: ' "$LTOUT" || fail "bad file: line 2 (status) did not run"
grep -q '^live by stack' "$LTOUT" || fail "bad file: line 4 (live) did not run"
grep -q 'no snapshots' "$LTOUT" && fail "bad file: line 6 ran after the error at line 5"
untraced "$TPID"

{ echo 'set on-error continue'; cat "$T/bad"; } >"$T/cont"
run_lt 60 -p "$TPID" -x "$T/cont"
[ "$LTRC" = 1 ] || fail "on-error continue: exit $LTRC, wanted 1 (a command failed)"
grep -q "^$T/cont:6: unknown grouping" "$LTERR" || fail "on-error continue: no error for line 6"
grep -q 'no snapshots' "$LTOUT" || fail "on-error continue: the line after the error did not run"
untraced "$TPID"

printf '%s\n' 'sleep 500ms' 'live by site' 'stack 1' 'age' >"$T/good"
run_lt 60 -p "$TPID" --every -x "$T/good"
[ "$LTRC" = 0 ] || fail "good file: exit $LTRC: $(grep -v hooks "$LTERR" | head -3)"
awk '/^live by site/ { a = NR } /^stack 1/ { b = NR } /^live bytes by age/ { c = NR }
     END { exit !(a && b && c && a < b && b < c) }' "$LTOUT" ||
	fail "good file: the three outputs are missing or out of order"
untraced "$TPID"

run_lt 60 -p "$TPID" -ex 'snapshot x' -ex 'sleep 1s' -ex 'diff x' -ex 'snapshots'
[ "$LTRC" = 0 ] || fail "-ex: exit $LTRC: $(grep -v hooks "$LTERR" | head -3)"
awk '/^snapshot x:/ { a = NR } /^diff x -> now/ { b = NR } /^x +[0-9.]+ (ms|s) ago/ { c = NR }
     END { exit !(a && b && c && a < b && b < c) }' "$LTOUT" ||
	fail "-ex: snapshot, diff, snapshots are missing or out of order: $(head -5 "$LTOUT")"
untraced "$TPID"

run_lt 60 -p "$TPID" -ex 'status' -ex 'frobnicate now' -ex 'snapshots'
[ "$LTRC" = 1 ] || fail "bad -ex: exit $LTRC, wanted 1"
grep -q "^-ex 'frobnicate now': unknown command 'frobnicate'" "$LTERR" ||
	fail "bad -ex: no \"-ex 'frobnicate now': unknown command\" on stderr: $(grep -v hooks "$LTERR" | head -3)"
grep -q 'no snapshots' "$LTOUT" && fail "bad -ex: the command after the failing one ran"
untraced "$TPID"

SEQ=$((SEQ + 1)); LTOUT=$T/lt.$SEQ.out; LTERR=$T/lt.$SEQ.err
printf 'live top 1\nsnapshots\n' | timeout -k 5 60 $LTENV "$LT" -p "$TPID" -x - >"$LTOUT" 2>"$LTERR"
LTRC=$?
[ "$LTRC" = 0 ] && grep -q '^live by stack' "$LTOUT" && grep -q 'no snapshots' "$LTOUT" ||
	fail "-x -: exit $LTRC, output: $(head -3 "$LTOUT")"
untraced "$TPID"

SEQ=$((SEQ + 1)); LTOUT=$T/lt.$SEQ.out; LTERR=$T/lt.$SEQ.err
{ echo 'live top 1'; sleep 1; echo 'status'; } | timeout -k 5 60 $LTENV "$LT" -p "$TPID" >"$LTOUT" 2>"$LTERR"
LTRC=$?
[ "$LTRC" = 0 ] && grep -q '^live by stack' "$LTOUT" && grep -q '^target: ' "$LTOUT" ||
	fail "commands on a pipe: exit $LTRC, output: $(head -3 "$LTOUT")"
untraced "$TPID"

run_lt 30 -p "$TPID" -x "$T/no-such-file"
[ "$LTRC" = 1 ] || fail "missing -x file: exit $LTRC, wanted 1"
[ "$(grep -c '' "$LTERR")" = 1 ] && grep -q "^leaktrap: cannot read command file $T/no-such-file" "$LTERR" ||
	fail "missing -x file: wanted one line naming it before attaching: $(cat "$LTERR")"
untraced "$TPID"

# files that are not command files: refused before attaching
mkdir -p "$T/a-directory"
head -c 4096 "$LT" >"$T/binary"
for f in a-directory binary; do
	run_lt 30 -p "$TPID" -x "$T/$f"
	[ "$LTRC" = 1 ] && [ "$(grep -c '' "$LTERR")" = 1 ] &&
	grep -Eq "^leaktrap: command file $T/$f is (a directory|not text)" "$LTERR" ||
		fail "-x $f: exit $LTRC, wanted 1 and one line before attaching: $(head -3 "$LTERR")"
done
untraced "$TPID"
# a NUL byte further on, an overlong line, a file that ends mid-command:
# each stops at its line, exit 1
{ echo status; printf '# %0600d\n' 0; printf 'snap\0shot\n'; } >"$T/nul-later"	# past the first 512 bytes
{ echo status; head -c 9000 /dev/zero | tr '\0' x; echo; } >"$T/overlong"
printf 'status\nlive top "3' >"$T/mid-command"
for f in "nul-later:3: not text" "overlong:2: line too long" "mid-command:2: unterminated quote"; do
	run_lt 60 -p "$TPID" -x "$T/${f%%:*}"
	[ "$LTRC" = 1 ] && grep -q "^$T/$f" "$LTERR" && grep -q '^target: ' "$LTOUT" ||
		fail "-x ${f%%:*}: exit $LTRC, wanted 1, status run and '$T/$f': $(grep -v hooks "$LTERR" | head -3)"
done
untraced "$TPID"

same_code "$TPID" before
stop_target "$TPID" 0
finish
