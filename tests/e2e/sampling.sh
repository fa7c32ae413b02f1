#!/bin/bash
# sampling: Poisson sampling by bytes finds the biggest leak.
# leak_threads leaks 200 x 64 KiB (leak_big), 300 x 4 KiB and 1000 x 64 B
# while 4 threads churn. With the default interval (512 KiB) the report
# says estimated: true, sample_interval 524288, and its top group by bytes
# is leak_big with an estimate within 0.35..2.5 of the truth (about 24
# samples expected; a miss is a 1e-4 event). With --sample-interval 64k,
# sample_interval is 65536 and leak_big's estimate is within 0.6..1.6,
# leak_mid's within 0.3..2.5. Each run: exit 0, code identical after detach,
# target exits 0 on SIGTERM.
. "$(dirname "$0")/lib.sh"

session() {     # session SAMPLE_INTERVAL_OPTION... ; leaves the report in $LTOUT
	start_target leak_threads
	snap "$TPID" before
	start_lt report -p "$TPID" --duration 4s --top 0 --format json "$@"
	go_target 4
	wait_lt 60
	took_about 4
	expect_lt_ok || return 1
	untraced "$TPID"
	same_code "$TPID" before
}

session
check_report "$TPID" --interval 524288 --all-groups --duration 4
check top "$LTOUT" leak_big "$TOUT" || fail "default interval: the top group is not leak_big"
check estimate "$LTOUT" "$TOUT" leak_big 0.35 2.5 || fail "default interval: leak_big estimate out of range"
stop_target

session --sample-interval 64k
check_report "$TPID" --interval 65536 --all-groups --duration 4
check top "$LTOUT" leak_big "$TOUT" || fail "64k interval: the top group is not leak_big"
check estimate "$LTOUT" "$TOUT" leak_big 0.6 1.6 || fail "64k interval: leak_big estimate out of range"
check estimate "$LTOUT" "$TOUT" leak_mid 0.3 2.5 || fail "64k interval: leak_mid estimate out of range"
stop_target
finish
