#!/bin/bash
# stopped_target: a target in group-stop stays stopped.
# leak_single is stopped with SIGSTOP (state T) before leaktrap attaches.
# `report --duration 1s` exits 0 with a report, and afterwards the target
# is still stopped (state T), untraced, with its code byte-identical. Then
# SIGCONT: it runs on, does its work on SIGUSR1 and exits 0 on SIGTERM.
# A second round does the same on leak_threads (5 threads, all stopped).
# A third stops leak_threads while leaktrap is attached (3 s session): the
# group-stop must outlast the detach in the same way. A thread that the
# SIGSTOP caught inside a stub cannot leave it without running, which would
# end its group-stop: then leaktrap leaves its region mapped, inert, and
# says so, and that region is the one difference allowed.
. "$(dirname "$0")/lib.sh"

# still_stopped PID WHAT: PID and each of its threads are in state T.
still_stopped() {
	local tp st
	for tp in /proc/"$1"/task/*; do
		st=$(proc_state "$1/task/${tp##*/}")
		[ "$st" = T ] || fail "thread ${tp##*/} of $2 is in state '$st' after detach, wanted T"
	done
	sleep 0.3
	[ "$(proc_state "$1")" = T ] || fail "$2 is in state '$(proc_state "$1")' 0.3s after detach, wanted T (stopped)"
}

# stop_now PID WHAT [STATES_RE]: SIGSTOP, then waits for state T (or one
# matching STATES_RE: a traced process in group-stop shows t).
stop_now() {
	kill -STOP "$1"
	for i in $(seq 1 100); do
		[[ "$(proc_state "$1")" =~ ^(${3:-T})$ ]] && return 0
		sleep 0.02
	done
	die "$2 did not stop on SIGSTOP (state $(proc_state "$1"))"
}

for target in leak_single leak_threads; do
	start_target $target
	stop_now "$TPID" $target
	snap "$TPID" before.$target
	run_lt 30 report -p "$TPID" --duration 1s --format json
	expect_lt_ok && check_report "$TPID"
	untraced "$TPID" T
	same_code "$TPID" before.$target
	still_stopped "$TPID" $target
	kill -CONT "$TPID"
	go_target 20
	stop_target "$TPID" 0
done

start_target leak_threads
snap "$TPID" before.mid
start_lt report -p "$TPID" --duration "$(dur 3)s" --format json
stop_now "$TPID" "leak_threads (attached)" 'T|t'
alive "$LTPID" || fail "leaktrap ended before the target was stopped"
wait_lt "$(dur 30)"
expect_lt_ok && check_report "$TPID"
untraced "$TPID" T
left=$(sed -n -E 's/.*the region at (0x[0-9a-f]+) stays mapped \(inert\): a thread was still inside it$/\1/p' "$LTERR")
[ -n "$left" ] && log "leaktrap left its region at $left mapped, as it said"
same_code "$TPID" before.mid "${left:-}"
still_stopped "$TPID" "leak_threads (stopped while attached)"
kill -CONT "$TPID"
go_target 20
stop_target "$TPID" 0
finish
