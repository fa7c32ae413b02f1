#!/bin/bash
# signals_random: SIGINT, SIGTERM, SIGHUP, SIGQUIT or SIGPIPE reaches
# leaktrap at a random moment of a session: while it attaches and hooks,
# while it samples, or while it detaches. One churn_mt (8 threads, every
# block's content checked before it is freed) serves 20 sessions of
# `report --duration 300ms`, alternating default sampling and --every; each
# gets a random signal after a random 1..700 ms, half of them within 60 ms
# (seeded: LT_SEED, logged; the log counts the phases signalled), but not
# before leaktrap's main() has blocked them: until then they meet their
# default action, as in any program.
# Every session must end with status 0 within 15s of the signal and print a
# JSON report for the target, and leave it untraced and running. At the end
# the code is byte-identical to before the first session, and on SIGTERM
# churn_mt exits 0: no block was corrupted.
. "$(dirname "$0")/lib.sh"

SESSIONS=${SESSIONS:-20}
SEED=${LT_SEED:-$(date +%s)}
RANDOM=$SEED
log "seed $SEED (rerun with LT_SEED=$SEED)"
SIGS=(INT TERM HUP QUIT PIPE)

# signals_ready PID: whether leaktrap has blocked the signals it reads (the
# first thing its main() does; before that, while the dynamic loader runs,
# a signal meets its default action, as in any program).
signals_ready() {
	local k v
	while read -r k v; do
		[ "$k" = SigBlk: ] && { (( (16#$v & 0x5007) == 0x5007 )); return; }	# HUP INT QUIT PIPE TERM
	done < <(cat "/proc/$1/status" 2>/dev/null)
	return 1
}

start_target churn_mt 8
snap "$TPID" before
phases=
reports=
for i in $(seq 1 "$SESSIONS"); do
	if [ $((i % 2)) = 0 ]; then mode=--every; else mode=; fi
	sig=${SIGS[RANDOM % ${#SIGS[@]}]}
	# half the signals within the first 60 ms, where attaching happens
	if [ $((RANDOM % 2)) = 0 ]; then delay=$((1 + RANDOM % 60)); else delay=$((60 + RANDOM % 640)); fi
	SEQ=$((SEQ + 1))
	LTOUT=$T/lt.$SEQ.out
	LTERR=$T/lt.$SEQ.err
	now_ms; LT_STARTED_AT=$NOW_MS
	$LTENV "$LT" report -p "$TPID" --duration 300ms --format json $mode >"$LTOUT" 2>"$LTERR" </dev/null &
	LTPID=$!
	STARTED="$STARTED $LTPID"
	sleep "$(printf '0.%03d' "$delay")"
	for k in $(seq 1 400); do
		signals_ready "$LTPID" || ! alive "$LTPID" && break
		[ "$k" = 1 ] && log "session $i: leaktrap still starting after $delay ms: the signal waits for its main()"
		sleep 0.005
	done
	# where the session was when the signal came
	if grep -q 'hooks active' "$LTERR"; then phase=sampling; else phase=attaching; fi
	if kill -"$sig" "$LTPID" 2>/dev/null; then
		now_ms; t0=$NOW_MS
		wait_lt 15
		now_ms
		log "session $i ($mode): SIG$sig after $delay ms ($phase), exit $LTRC $((NOW_MS - t0)) ms later"
	else
		phase=finished
		wait_lt 15
		log "session $i ($mode): ended before SIG$sig after $delay ms, exit $LTRC"
	fi
	phases="$phases $phase"
	if [ "$LTRC" != 0 ] || [ ! -s "$LTOUT" ]; then
		fail "session $i: leaktrap exited $LTRC after SIG$sig ($phase), report of $(wc -c <"$LTOUT") bytes; stderr:"
		tail -5 "$LTERR"
	fi
	reports="$reports $LTOUT"
	untraced "$TPID"
	alive "$TPID" || die "churn_mt died during session $i: $(tail -3 "$TERR")"
	[ "$FAILED" = 0 ] || break
done
for p in attaching sampling finished; do
	log "signal while $p: $(grep -o "$p" <<<"$phases" | wc -l) sessions"
done
json_reports "$TPID" session $reports || fail "some session printed a bad report"
same_code "$TPID" before
stop_target "$TPID" 0
grep '^ops' "$TOUT"
[ -s "$TERR" ] && { fail "churn_mt complained:"; head -5 "$TERR"; }
finish
