#!/bin/bash
# agent_sigkill: leaktrap killed by SIGKILL never harms the target.
# churn_mt (8 threads, every byte of every block checked before it is
# freed) is sampled by the agent engine at a 4 KiB interval; 20 times (10 on aarch64),
# leaktrap is killed with SIGKILL at a random moment 0-400 ms after its
# hooks are active; then 5 (3) more times with --every, where stubs that find
# the ring full wait for the reader: once it is dead they must stop
# waiting (within two seconds) and drop. The target stays untraced and alive after each kill
# (its stubs keep running with nobody reading the ring: they drop), and at
# the end churn_mt exits 0 on SIGTERM with no corruption, no SIGTRAP and no
# SIGSEGV. (The kills land in the steady state: the few hundred
# microseconds of an injected system call at attach and detach are not
# covered; see the README's Safety section.)
export LEAKTRAP_ENGINE=agent
. "$(dirname "$0")/lib.sh"

# Each killed session leaves its region (12 MiB) in the target, chained into
# the hooks; aarch64's branches reach 128 MiB, room for about 18 of them
# (README, Safety): there, 10 kills and 3 with --every.
kills=20 every_kills=5
[ "$(uname -m)" = aarch64 ] && kills=10 every_kills=3
start_target churn_mt 8
for i in $(seq 1 "$kills"); do
	start_lt -p "$TPID" --sample-interval 4k -ex 'sleep 60s'
	sleep "0.$(printf '%03d' $((RANDOM % 400)))"
	kill -KILL "$LTPID"
	wait_exit "$LTPID" 10 || die "leaktrap did not die of SIGKILL"
	sleep 0.05
	alive "$TPID" || die "churn_mt died after kill $i: $(tail -3 "$TERR")"
	untraced "$TPID"
done
for i in $(seq 1 "$every_kills"); do
	start_lt -p "$TPID" --every -ex 'sleep 60s'
	sleep "0.$(printf '%03d' $((RANDOM % 400)))"
	kill -KILL "$LTPID"
	wait_exit "$LTPID" 10 || die "leaktrap did not die of SIGKILL"
	sleep 2.5	# the heartbeat's two seconds run out
	a=$(awk '{ print $14 + $15 }' "/proc/$TPID/stat")
	sleep 1.5
	b=$(awk '{ print $14 + $15 }' "/proc/$TPID/stat")
	alive "$TPID" || die "churn_mt died after --every kill $i: $(tail -3 "$TERR")"
	untraced "$TPID"
	# still working: its 8 threads used CPU in the last second
	[ $((b - a)) -gt 20 ] || fail "churn_mt used $((b - a)) ticks in 1.5 s after --every kill $i: stuck waiting?"
done
log "25 kills; churn_mt still running"
sleep 1
stop_target "$TPID" 0
grep '^ops' "$TOUT"
[ -s "$TERR" ] && { fail "churn_mt complained:"; head -5 "$TERR"; }
finish
