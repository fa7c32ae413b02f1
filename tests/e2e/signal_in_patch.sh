#!/bin/bash
# signal_in_patch: leaktrap attaches while a signal handler of the target is
# running that will return into the first bytes of malloc, which a branch
# patch would overwrite (x86-64: a 5-byte jmp over malloc's first few
# instructions; an aarch64 patch is one instruction, so this cannot happen
# there). sigpark 4 entry parks the first handler that interrupted
# malloc+1..malloc+4 and only then says "ready". leaktrap attaches; the
# handler is released while it is attached and returns into malloc: with a
# branch there the thread would run the middle of the jmp. malloc must be
# hooked with a breakpoint (trap engine) or left unhooked (agent engine),
# with the reason in the report; the target keeps running, leaktrap exits 0,
# the code is byte-identical afterwards, and the target exits 0 on SIGTERM.
. "$(dirname "$0")/lib.sh"

[ "$(uname -m)" = x86_64 ] || skip "a branch patch is one instruction on $(uname -m)"
# A SIGUSR2 handler landed in those bytes after 6 to 12 s on one machine
# and never in 40 s on another (a CPU that takes no interrupt at malloc's
# pushes), so sigpark also single-steps a thread into malloc: its SIGTRAP
# handler parks there at once.
start_target sigpark 4 entry
grep '^parked' "$TOUT" || die "sigpark did not park a handler in malloc (harness)"
snap "$TPID" before
start_lt report -p "$TPID" --duration "$(dur 3)s" --format json
kill -USR1 "$TPID"	# the handler returns into malloc now
sleep 0.5
alive "$TPID" || die "sigpark died when the handler returned into malloc: $(tail -3 "$TERR")"
wait_lt $(( $(dur 3) + 30 ))
expect_lt_ok && python3 - "$LTOUT" "${LEAKTRAP_ENGINE:-agent}" <<'PY' || fail "malloc is not hooked as it should be"
import json, sys
r = json.load(open(sys.argv[1]))
m = [h for h in r["hooks"] if h["func"] == "malloc"][0]
print("malloc:", m["how"], "-", m["why"])
want = "breakpoint" if sys.argv[2] == "trap" else "not hooked"
sys.exit(0 if m["how"] == want and "signal handler" in (m["why"] or "") else 1)
PY
untraced "$TPID"
same_code "$TPID" before
stop_target "$TPID" 0
grep '^ops' "$TOUT"
finish
