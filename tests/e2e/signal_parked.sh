#!/bin/bash
# signal_parked: leaktrap detaches while a signal handler of the target is
# still running, having interrupted a thread inside leaktrap's stubs or
# trampolines (where the unsampled path of every malloc and free passes).
# sigpark (4 threads of malloc/free, SIGUSR2 to each every 100 us) parks the
# first handler that interrupted code mapped after it started, and keeps it
# parked until SIGUSR1. leaktrap reports for 2 s and detaches meanwhile. It
# must then either move the interrupted context to the same instruction of
# the original function (a trampoline) and unmap its region, or leave the
# region mapped, inert, and say so (a stub): when the handler returns, the
# thread must go on. Checks: a handler parked during the session, leaktrap
# exits 0 with a report, the target is untraced, keeps running after the
# handler is released, and exits 0 on SIGTERM (no SIGSEGV, no abort); the
# code is byte-identical unless leaktrap said it left the region. Up to 3
# sessions per round: some find no handler parked in time. Two rounds: the
# first handler in leaktrap's code (mostly a stub), then with "tramp" one at
# the start of a trampoline, whose interrupted pc leaktrap must move (on
# aarch64 it once wrote it into the saved x30 instead: the thread went on
# in the trampoline and free returned into itself).
. "$(dirname "$0")/lib.sh"

# parked_round [MODE]: one target, sessions until a handler parks, checks.
parked_round() {
	local parked= try
	start_target sigpark 4 "$@"
	snap "$TPID" before
	for try in 1 2 3; do
		start_lt report -p "$TPID" --duration "$(dur 2)s" --format json
		if wait_line "$TOUT" '^parked' "$(dur 2)" "$LTPID"; then
			parked=$(grep '^parked' "$TOUT")
			log "$parked"
		fi
		wait_lt $(( $(dur 2) + 30 ))
		expect_lt_ok
		untraced "$TPID"
		[ -n "$parked" ] && break
		log "session $try: no handler parked in leaktrap's code"
	done
	[ -n "$parked" ] || die "no handler parked in leaktrap's code in 3 sessions (harness)"
	tail -3 "$LTERR"
	kill -USR1 "$TPID"
	sleep 0.5
	alive "$TPID" || die "sigpark ${1:-} died when the handler returned: $(tail -3 "$TERR")"
	if grep -q 'stays mapped (inert)' "$LTERR"; then
		log "leaktrap left its region mapped, as it said"
	else
		same_code "$TPID" before
	fi
	stop_target "$TPID" 0
	grep '^ops' "$TOUT"
}

parked_round
parked_round tramp
finish
