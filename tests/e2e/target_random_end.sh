#!/bin/bash
# target_random_end: the target ends or execs at a random moment of a
# session: while leaktrap attaches, samples or (for exec) re-hooks. Twelve
# sessions, four of each, in a seeded random order (LT_SEED, logged), each
# after a random 1..800 ms from leaktrap's start (half within 60 ms):
#   kill: churn_mt 4 is killed with SIGKILL;
#   term: churn_mt 4 gets SIGTERM and exits 0 after checking its blocks;
#   exec: exec_self gets SIGUSR1 and replaces itself with execve.
# leaktrap runs `report --duration 30s` (exec: 3s) with --every. Once it had
# said "hooks active", it must exit 0 within 15 s of the end (exec: of its
# duration) with a JSON report whose target_end says what happened (exec:
# null with the agent engine, which hooks the new image; "ran execve" with
# the trap engine, whose session ends there); before that, one line on stderr and exit 1
# ("exited" / "ran execve while leaktrap attached") is the other allowed
# answer. The exec'ed target is untraced and exits 0 on SIGTERM.
. "$(dirname "$0")/lib.sh"

SEED=${LT_SEED:-$(date +%s)}
RANDOM=$SEED
log "seed $SEED (rerun with LT_SEED=$SEED)"
actions=(kill kill kill kill term term term term exec exec exec exec)
for i in $(seq 11 -1 1); do	# shuffle
	j=$((RANDOM % (i + 1)))
	a=${actions[i]} actions[i]=${actions[j]} actions[j]=$a
done

n=0
for act in "${actions[@]}"; do
	n=$((n + 1))
	# half within the first 60 ms, where attaching happens
	if [ $((RANDOM % 2)) = 0 ]; then delay=$((1 + RANDOM % 60)); else delay=$((60 + RANDOM % 740)); fi
	if [ "$act" = exec ]; then
		start_target exec_self
		dur_s=$(dur 3)
	else
		start_target churn_mt 4
		dur_s=30
	fi
	SEQ=$((SEQ + 1))
	LTOUT=$T/lt.$SEQ.out
	LTERR=$T/lt.$SEQ.err
	now_ms; LT_STARTED_AT=$NOW_MS
	$LTENV "$LT" report -p "$TPID" --every --duration "${dur_s}s" --format json >"$LTOUT" 2>"$LTERR" </dev/null &
	LTPID=$!
	STARTED="$STARTED $LTPID"
	sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))"
	if grep -q 'hooks active' "$LTERR"; then phase=hooked; else phase=attaching; fi
	case $act in
	kill) kill -KILL "$TPID" ;;
	term) kill -TERM "$TPID" ;;
	exec) kill -USR1 "$TPID" ;;
	esac
	now_ms; t0=$NOW_MS
	wait_lt $((dur_s + 30))
	now_ms
	log "session $n: $act after $delay ms ($phase): leaktrap exit $LTRC $((NOW_MS - t0)) ms later"
	[ "$act" = exec ] || [ $((NOW_MS - t0)) -le 15000 ] || fail "session $n: leaktrap took $((NOW_MS - t0)) ms after the target's end"
	if [ "$LTRC" = 1 ] && ! grep -q 'hooks active' "$LTERR" && [ "$(grep -c '' "$LTERR")" = 1 ] &&
	   grep -Eq 'exited|ran execve|no process' "$LTERR"; then
		log "session $n: refused while attaching: $(head -1 "$LTERR")"
	elif expect_lt_ok; then
		end=$(check get "$LTOUT" target_end)
		log "session $n: target_end $end"
		case $act in
		kill) [[ $end == *"signal 9"* ]] || fail "session $n: target_end is $end, wanted killed by signal 9" ;;
		term) [[ $end == *"status 0"* ]] || fail "session $n: target_end is $end, wanted exited with status 0" ;;
		exec)	# the agent engine hooks the new image; the trap engine ends there
			if [ "${LEAKTRAP_ENGINE:-agent}" = trap ]; then
				[[ $end == *execve* ]] || fail "session $n: target_end is $end after an exec, wanted execve"
			else
				[ "$end" = null ] || fail "session $n: target_end is $end after an exec, wanted null"
			fi ;;
		esac
	fi
	case $act in
	exec)
		wait_line "$TOUT" '^done' 10 "$TPID" || fail "session $n: exec_self's second image did not finish"
		untraced "$TPID"
		stop_target "$TPID" 0
		;;
	term) wait_exit "$TPID" 10; [ "$STATUS" = 0 ] || fail "session $n: churn_mt exited $STATUS after SIGTERM" ;;
	kill) wait_exit "$TPID" 10 ;;
	esac
done
finish
