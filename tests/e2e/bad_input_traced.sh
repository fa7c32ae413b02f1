#!/bin/bash
# bad_input_traced: a process already traced (by strace) is refused.
# leaktrap must print one line starting "leaktrap: " on stderr, exit 1,
# and leave strace's tracing intact (TracerPid still strace). After strace
# detaches, the target runs its work and exits 0. Skipped without strace.
. "$(dirname "$0")/lib.sh"
command -v strace >/dev/null || skip "strace is not installed"

start_target leak_single
strace -f -o /dev/null -p "$TPID" </dev/null 2>"$T/strace.err" &
SPID=$!
STARTED="$STARTED $SPID"
for i in $(seq 1 200); do [ "$(tracer_of "$TPID")" = "$SPID" ] && break; sleep 0.05; done
[ "$(tracer_of "$TPID")" = "$SPID" ] || die "strace did not attach: $(cat "$T/strace.err")"
log "strace $SPID traces $TPID"

run_lt 20 report -p "$TPID" --duration 1s
first=$(head -1 "$LTERR")
nl=$(grep -c '' "$LTERR")
[ "$LTRC" = 1 ] || fail "leaktrap on a traced process exited $LTRC, wanted 1 (stderr: $(head -3 "$LTERR" | tr '\n' '|'))"
{ [ "$nl" = 1 ] && [ "${first#leaktrap: }" != "$first" ]; } ||
	fail "wanted one stderr line starting 'leaktrap: ', got $nl: $(head -5 "$LTERR" | tr '\n' '|')"
[ -s "$LTOUT" ] && fail "leaktrap wrote on stdout: $(head -3 "$LTOUT")"
log "leaktrap said: $first"
[ "$(tracer_of "$TPID")" = "$SPID" ] || fail "TracerPid of $TPID is now $(tracer_of "$TPID"), wanted strace's $SPID"

kill -TERM "$SPID"
wait_exit "$SPID" 10 || fail "strace did not exit"
for i in $(seq 1 100); do [ "$(tracer_of "$TPID")" = 0 ] && break; sleep 0.05; done
untraced "$TPID"
go_target 20
stop_target "$TPID" 0
finish
