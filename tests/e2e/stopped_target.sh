#!/bin/bash
# stopped_target: a target in group-stop stays stopped.
# leak_single is stopped with SIGSTOP (state T) before leaktrap attaches.
# `report --duration 1s` exits 0 with a report, and afterwards the target
# is still stopped (state T), untraced, with its code byte-identical. Then
# SIGCONT: it runs on, does its work on SIGUSR1 and exits 0 on SIGTERM.
# A second round does the same on leak_threads (5 threads, all stopped).
. "$(dirname "$0")/lib.sh"

for target in leak_single leak_threads; do
	start_target $target
	kill -STOP "$TPID"
	for i in $(seq 1 100); do [ "$(proc_state "$TPID")" = T ] && break; sleep 0.02; done
	[ "$(proc_state "$TPID")" = T ] || die "$target did not stop on SIGSTOP"
	snap "$TPID" before.$target
	run_lt 30 report -p "$TPID" --duration 1s --format json
	expect_lt_ok && check_report "$TPID"
	untraced "$TPID" T
	for tp in /proc/"$TPID"/task/*; do
		st=$(proc_state "$TPID/task/${tp##*/}")
		[ "$st" = T ] || fail "thread ${tp##*/} of $target is in state '$st' after detach, wanted T"
	done
	same_code "$TPID" before.$target
	sleep 0.3
	[ "$(proc_state "$TPID")" = T ] || fail "$target is in state '$(proc_state "$TPID")' 0.3s after detach, wanted T (stopped)"
	kill -CONT "$TPID"
	go_target 20
	stop_target "$TPID" 0
done
finish
