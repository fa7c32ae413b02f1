#!/bin/bash
# code_identical: detach leaves the target's code exactly as it was.
# For every r-xp mapping of the target the bytes are read through
# /proc/PID/mem before attach, while hooks are active, and after detach.
# While attached the checker must see the patched entries (else this test
# could not see anything); after detach every byte must be identical and no
# new executable mapping (the injected region) may remain. Done on a C
# target (three sessions in a row: --every until SIGINT, default sampling,
# 4k interval)
# and on a C++ target (libstdc++ loaded); each target must then exit 0.
. "$(dirname "$0")/lib.sh"

# attached_differs PID BEFORE: while hooked, the code must differ.
attached_differs() {
	snap "$1" "during.$SEQ"
	if check compare "$T/$2" "$T/during.$SEQ" >"$T/during.$SEQ.txt"; then
		fail "while hooks were active, the code of $1 read the same as before attach: the snapshot cannot see the patches"
	else
		log "while attached, as expected, the code differs: $(grep -c . "$T/during.$SEQ.txt") differences, e.g."
		head -3 "$T/during.$SEQ.txt"
	fi
}

start_target leak_single
snap "$TPID" before
# The --every sessions end on SIGINT once the target is done: under the trap
# engine in the arm64 VM its work takes seconds, and a session that ended
# first would find the leaks missing.
start_lt report -p "$TPID" --every --duration "$(dur 60)s" --top 0 --format json
attached_differs "$TPID" before
go_target "$(dur 10)"
alive "$LTPID" || fail "leaktrap ended before the target finished its work"
kill -INT "$LTPID"
wait_lt 60
expect_lt_ok
untraced "$TPID"
same_code "$TPID" before
check_sites "$TOUT" --src leak_single.c
for opt in "" "--sample-interval 4k"; do
	start_lt report -p "$TPID" --duration "$(dur 1)s" --format json $opt
	attached_differs "$TPID" before
	wait_lt 60
	expect_lt_ok
	untraced "$TPID"
	same_code "$TPID" before
done
stop_target "$TPID" 0

start_target leak_cxx
snap "$TPID" before_cxx
start_lt report -p "$TPID" --every --duration "$(dur 60)s" --top 0 --format json
go_target "$(dur 10)"
alive "$LTPID" || fail "leaktrap ended before the target finished its work"
kill -INT "$LTPID"
wait_lt 60
expect_lt_ok
untraced "$TPID"
same_code "$TPID" before_cxx
stop_target "$TPID" 0
finish
