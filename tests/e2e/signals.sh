#!/bin/bash
# signals: leaktrap detaches cleanly when it gets SIGINT, SIGTERM, SIGHUP or
# SIGQUIT mid-session (--duration 60s). For each signal: leaktrap exits 0
# within 15s, still prints the report gathered so far, leaves the target
# untraced with its code byte-identical, and the target goes on and later
# exits 0 on SIGTERM.
#  SIGINT, SIGTERM: leak_single with --every, after its work: the report
#                   has the exact counts.
#  SIGHUP, SIGQUIT: churn_mt (8 threads; default sampling for SIGHUP,
#                   --every for SIGQUIT, so threads sit in traps when the
#                   signal comes); churn_mt keeps running and its integrity
#                   checks pass.
. "$(dirname "$0")/lib.sh"

stop_lt_with() {    # stop_lt_with SIG
	alive "$LTPID" || { fail "leaktrap ended before SIG$1 was sent"; return 1; }
	kill -"$1" "$LTPID"
	now_ms; local t0=$NOW_MS
	wait_lt 15
	now_ms; log "leaktrap took $((NOW_MS - t0)) ms to exit after SIG$1"
	expect_lt_ok
}

for sig in INT TERM; do
	start_target leak_single
	snap "$TPID" before.$sig
	start_lt report -p "$TPID" --every --duration 60s --top 0 --format json
	go_target 20
	stop_lt_with $sig && {
		check_report "$TPID" --every --all-groups
		check_sites "$TOUT" --src leak_single.c
	}
	untraced "$TPID"
	same_code "$TPID" before.$sig
	sleep 0.2
	stop_target "$TPID" 0
done

for sig in HUP QUIT; do
	if [ $sig = QUIT ]; then every=--every; else every=; fi
	start_target churn_mt 8
	snap "$TPID" before.$sig
	start_lt report -p "$TPID" --duration 60s --format json $every
	sleep 1
	stop_lt_with $sig && check_report "$TPID" $every
	untraced "$TPID"
	same_code "$TPID" before.$sig
	# it goes on churning after detach
	t1=$(awk '{ print $14 + $15 }' "/proc/$TPID/stat")
	sleep 0.5
	t2=$(awk '{ print $14 + $15 }' "/proc/$TPID/stat")
	[ "$t2" -gt "$t1" ] || fail "churn_mt used no CPU after detach: stuck? (state $(proc_state "$TPID"))"
	stop_target "$TPID" 0
	grep '^ops' "$TOUT"
done
finish
