#!/bin/bash
# unwind_rules: stacks stepped by the rules learnt from the unwind tables
# are the stacks libunwind gives. With LEAKTRAP_UNWIND_CHECK set, leaktrap
# unwinds every such stack with libunwind too and counts those that come
# out differently; `status` prints the counts. On targets with threads,
# C++, a static executable, signal handlers that fault on purpose, and
# both engines: most stacks must go by the rules (or the fast path is not
# working) and none may differ. Deeper stacks (libunwind's stops short and
# agrees as far as it goes: aarch64 with pointer authentication) are
# allowed.
. "$(dirname "$0")/lib.sh"
LTENV="env LEAKTRAP_UNWIND_CHECK=1"

# unwound NAME ENGINE [ARGS...]: one 2 s session with --every and the check.
unwound() {
	local name=$1 engine=$2; shift 2
	start_target "$name" "$@"
	start_lt -p "$TPID" --every --engine "$engine" -ex "sleep $(dur 2)s" -ex status
	kill -USR1 "$TPID"
	wait_lt 60
	[ "$LTRC" = 0 ] || fail "$name ($engine): leaktrap exited $LTRC: $(grep -v hooks "$LTERR" | head -3)"
	local line fast full checked differ deeper
	line=$(grep '^unwind:' "$LTOUT")
	read -r fast full checked differ deeper < <(echo "$line" | sed -E 's/[^0-9]+/ /g')
	log "$name ($engine): $line"
	if [ -z "$deeper" ]; then
		fail "$name ($engine): no unwind counts with the check on: '$line'"
	elif [ "$checked" != "$fast" ] || [ "$differ" != 0 ]; then
		fail "$name ($engine): $differ of $checked stacks unwound by the rules differ from libunwind's"
	elif [ $((fast + full)) -lt 100 ] || [ $((fast * 10)) -lt $(((fast + full) * 9)) ]; then
		fail "$name ($engine): only $fast of $((fast + full)) stacks went by the rules"
	fi
	stop_target "$TPID" 0
}

unwound leak_threads trap
unwound leak_threads agent
unwound leak_single_static trap
unwound leak_cxx agent
unwound segv_handler trap
unwound thread_churn agent
finish
