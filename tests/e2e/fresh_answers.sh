#!/bin/bash
# fresh_answers: a command's answer includes every free the target made
# before the command ran, not only those up to leaktrap's last periodic read
# of the free log (every 100 ms in the trap engine). leak_many 20000 under
# --every, leaktrap's commands coming through a fifo: the moment the target
# prints "done" (having just freed every other block, after its last
# allocation), `export json -` must give exactly the 10000 blocks left.
# Three rounds; each session ends detached, the target untouched.
. "$(dirname "$0")/lib.sh"

for round in 1 2 3; do
	start_target leak_many 20000
	snap "$TPID" before
	mkfifo "$T/cmd.$round"
	SEQ=$((SEQ + 1))
	LTOUT=$T/lt.$SEQ.out
	LTERR=$T/lt.$SEQ.err
	: >"$LTERR"
	$LTENV "$LT" -p "$TPID" --every -x - <"$T/cmd.$round" >"$LTOUT" 2>"$LTERR" &
	LTPID=$!
	STARTED="$STARTED $LTPID"
	exec 3>"$T/cmd.$round"
	wait_line "$LTERR" 'hooks active' 30 "$LTPID" || { cat "$LTERR"; die "round $round: leaktrap did not attach"; }
	go_target 60
	echo 'export json -' >&3
	exec 3>&-
	wait_exit "$LTPID" 60 || die "round $round: leaktrap did not finish within 60 s"
	[ "$STATUS" = 0 ] || fail "round $round: leaktrap exited $STATUS: $(grep -v hooks "$LTERR" | head -3)"
	check_sites "$TOUT" --src leak_many.c
	untraced "$TPID"
	same_code "$TPID" before
	stop_target "$TPID" 0
done
finish
