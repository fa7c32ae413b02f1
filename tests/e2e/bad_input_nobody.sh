#!/bin/bash
# bad_input_nobody: permission denied. leaktrap run as user nobody (setpriv
# --reuid=nobody --regid=nogroup --clear-groups) on a root process must
# print one line starting "leaktrap: " on stderr, exit 1, and leave the
# target untouched. Skipped without setpriv or user nobody, or when nobody
# cannot execute the leaktrap binary where it is.
. "$(dirname "$0")/lib.sh"
command -v setpriv >/dev/null || skip "setpriv is not installed"
id nobody >/dev/null 2>&1 || skip "no user nobody"
[ "$(id -u)" = 0 ] || skip "must run as root to drop to nobody"
NOBODY="setpriv --reuid=nobody --regid=nogroup --clear-groups"
$NOBODY test -x "$LT" || skip "user nobody cannot execute $LT"

start_target leak_single
snap "$TPID" before
SEQ=$((SEQ + 1)); LTOUT=$T/nobody.out; LTERR=$T/nobody.err
timeout -k 5 20 $NOBODY "$LT" report -p "$TPID" --duration 1s >"$LTOUT" 2>"$LTERR" </dev/null
LTRC=$?
first=$(head -1 "$LTERR")
nl=$(grep -c '' "$LTERR")
[ "$LTRC" = 1 ] || fail "leaktrap as nobody exited $LTRC, wanted 1 (stderr: $(head -3 "$LTERR" | tr '\n' '|'))"
{ [ "$nl" = 1 ] && [ "${first#leaktrap: }" != "$first" ]; } ||
	fail "wanted one stderr line starting 'leaktrap: ', got $nl: $(head -5 "$LTERR" | tr '\n' '|')"
[ -s "$LTOUT" ] && fail "leaktrap wrote on stdout: $(head -3 "$LTOUT")"
log "leaktrap said: $first"
untraced "$TPID"
same_code "$TPID" before
go_target 20
stop_target "$TPID" 0
finish
