# alloc_lib.bash: helpers for the tests/e2e/alloc_*.sh scripts, sourced
# after lib.sh (not a test itself: tests/run.sh runs only *.sh).
#
# alloc_session TARGET SRC FAMILY MODULE [PRELOAD]
#   The exact-count test of lib.sh's every_session for build/targets/TARGET,
#   started with LD_PRELOAD=PRELOAD when given, and then: the report and
#   `status` name the allocator (FAMILY, and MODULE, a substring of the
#   path of the object that defines malloc), malloc and free are hooked
#   with a branch, the "count" truth lines hold (alloc_check.py counts).
#   ALLOC_NO_LIBC_CFI="FUNC:SITE ..." (musl, whose C library has no unwind
#   tables): the stacks of SITE's blocks end in the C library's FUNC, so
#   SITE's truth is checked on the allocations called from FUNC instead.
#   ALLOC_HOOKS=(FUNC HOW ...): how those functions must be hooked besides
#   malloc, free, calloc and realloc (a branch), e.g. ("operator new" jmp).

ALLOCPY=$ROOT/tests/e2e/alloc_check.py
ALLOC_HOOKS=()
ALLOC_DUR=${ALLOC_DUR:-4}

# alloc_session: see the header.
alloc_session() {
	local name=$1 src=$2 family=$3 module=$4 preload=${5:-}
	local targets=$TARGETS
	if [ -n "$preload" ]; then
		[ -r "$preload" ] || harness "$preload is missing (scripts/deps.sh)"
		# exec keeps the pid: start_target sees the target itself say "ready"
		mkdir -p "$T/preload.$SEQ"
		printf '#!/bin/sh\nLD_PRELOAD=%s exec %s "$@"\n' "$preload" "$TARGETS/$name" \
			>"$T/preload.$SEQ/$name"
		chmod +x "$T/preload.$SEQ/$name"
		targets=$T/preload.$SEQ
	fi
	log "--- $name${preload:+ with LD_PRELOAD=$preload}: $family in $module"
	TARGETS=$targets start_target "$name"
	snap "$TPID" "before.$TPID"
	start_lt report -p "$TPID" --every --duration "${ALLOC_DUR}s" --top 0 --format json
	local report=$LTOUT
	go_target "$ALLOC_DUR"
	alive "$LTPID" || fail "leaktrap ended before the target finished its work"
	wait_lt $((ALLOC_DUR + 60))
	took_about "$ALLOC_DUR"
	expect_lt_ok || return 1
	untraced "$TPID"
	same_code "$TPID" "before.$TPID"
	ALLOCATOR=$module check_report "$TPID" --every --all-groups --duration "$ALLOC_DUR"

	local truth=$TOUT pair func site
	if [ -n "${ALLOC_NO_LIBC_CFI:-}" ]; then
		truth=$T/truth.$TPID
		local drop=""
		for pair in $ALLOC_NO_LIBC_CFI; do drop="$drop ${pair#*:}"; done
		python3 "$ALLOCPY" truth-without "$TOUT" $drop >"$truth"
		for pair in $ALLOC_NO_LIBC_CFI; do
			func=${pair%%:*} site=${pair#*:}
			set -- $(awk -v s="$site" '($1 == "site" || $1 == "count") && $2 == s { print $4, ($6 == "" ? "" : $6) }' "$TOUT")
			python3 "$ALLOCPY" frame0 "$report" "$func" "$@" ||
				fail "$site: the allocations the C library's $func made are not exactly the truth"
		done
	else
		python3 "$ALLOCPY" counts "$report" "$truth" ||
			fail "live allocations made inside the C library differ from the truth"
	fi
	check_sites "$truth" --src "$src"
	python3 "$ALLOCPY" hooks "$report" malloc jmp free jmp calloc jmp realloc jmp \
		"${ALLOC_HOOKS[@]}" || fail "a function is not hooked as it should be"
	local fam
	fam=$(check get "$report" allocator_family)
	[ "$fam" = "\"$family\"" ] || fail "allocator_family is $fam, wanted \"$family\""

	# status names the allocator and where its functions are
	run_lt 30 -p "$TPID" -ex status
	if [ "$LTRC" != 0 ]; then
		fail "leaktrap -ex status exited with $LTRC"
		tail -5 "$LTERR"
	elif ! grep -Eq "^allocator: +$family, [^ ]*$module" "$LTOUT"; then
		fail "status does not name $family in $module:"
		grep -A3 '^allocator' "$LTOUT"
	elif ! grep -Eq '^  malloc +jmp +at 0x' "$LTOUT"; then
		fail "status does not list malloc as hooked with a branch"
	else
		log "status: $(grep '^allocator' "$LTOUT")"
	fi
	untraced "$TPID"
	stop_target "$TPID" 0
}
