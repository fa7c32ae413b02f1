#!/bin/bash
# agent_every: the exact-count tests of the trap engine, with the agent
# engine (LEAKTRAP_ENGINE=agent): leak_single, leak_variants (every
# allocation function) and leak_cxx. With --every the report must give
# exactly each site's truth; code identical after detach; the target exits 0.
# The agent engine drops events when its ring is full: a drop would show as
# a wrong count here, and the report's "dropped" and "frees_lost" must be 0.
export LEAKTRAP_ENGINE=agent
. "$(dirname "$0")/lib.sh"

for t in "leak_single leak_single.c" "leak_variants leak_variants.c" "leak_cxx leak_cxx.cc"; do
	set -- $t
	every_session "$1" "$2" 8
	grep -q '"engine": *"agent"' "$LTOUT" || fail "$1: the report does not say engine agent"
	d=$(python3 -c 'import json,sys; t=json.load(open(sys.argv[1]))["totals"]; print(t["dropped"] + t["frees_lost"])' "$LTOUT")
	[ "$d" = 0 ] || fail "$1: $d events dropped"
done
finish
