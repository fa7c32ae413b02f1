#!/bin/bash
# agent_stacks: sampled allocations with almost no stack left. small_stacks
# mallocs from a thread with the smallest stack pthread allows and from the
# main thread with ~24 KiB of its stack left, while the agent engine samples
# at 4 KiB: the stubs' stack copy stops short at the end of the stack and
# nothing faults. The target prints "stacks ok" and exits 0; leaktrap
# exits 0 and its samples unwind to the churn site.
export LEAKTRAP_ENGINE=agent
. "$(dirname "$0")/lib.sh"

start_target small_stacks
snap "$TPID" before
start_lt report -p "$TPID" --sample-interval 4k --duration 4s --format json --top 0
go_target 20
grep -q '^stacks ok$' "$TOUT" || fail "small_stacks did not finish"
wait_lt 30
expect_lt_ok
untraced "$TPID"
same_code "$TPID" before
python3 - "$LTOUT" <<'PY' || fail "the samples did not unwind to churn_here"
import json, sys
r = json.load(open(sys.argv[1]))
print("samples", r["totals"]["samples"], "frees seen", r["totals"]["frees_seen"])
assert r["totals"]["frees_seen"] > 0
PY
stop_target "$TPID" 0
finish
