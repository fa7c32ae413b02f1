#!/bin/bash
# tests/run.sh: runs leaktrap's tests and says which passed.
#
# Usage: tests/run.sh [NAME_PATTERN...]
# Runs every build/unit/* binary (build them with `make tests`) and every
# tests/e2e/*.sh script except lib.sh, one at a time, each under `timeout`
# (TEST_TIMEOUT seconds, default 300), and the long tests, tests/long/*.sh,
# as long/NAME with the default engine, given TIMEOUT + SOAK_S more seconds
# (SOAK_S: how long the soak lasts, default 600); never in the arm64 VM, and
# alongside the arm64 VM suites, at nice 19, when those run. Every e2e script runs twice, with
# LEAKTRAP_ENGINE=agent (the default engine) as e2e/NAME and with
# LEAKTRAP_ENGINE=trap as e2e/NAME@trap, except the agent_* scripts, which
# are about the agent engine only (LT_E2E_ENGINES=agent: no @trap runs).
# A test's name is unit/NAME or e2e/NAME;
# with patterns, only the tests whose name contains one of them (or matches
# it as a shell glob, or is it exactly: =NAME) run. The libFuzzer binaries in build/fuzz run as
# fuzz/NAME through tests/fuzz/run.sh, for a bounded number of inputs.
# Per test it prints "PASS name (Ns)", "SKIP name" (exit 77), or "FAIL name"
# followed by the last 40 lines of its log; logs are kept for failures (and
# long tests) only, in build/test-logs/NAME.log. The last line is
#   N passed, N failed, N skipped
# and the exit status is 1 if any test failed, else 0.
# Exit codes of a test: 0 pass, 77 skip, anything else fail (99: the test's
# harness is broken; 124: timed out).

cd "$(dirname "$0")/.." || exit 2
ROOT=$(pwd)
LOGS=$ROOT/build/test-logs
TIMEOUT=${TEST_TIMEOUT:-300}
mkdir -p "$LOGS" || exit 2

tests=()
for f in build/unit/* build/unit/*/*; do
	[ -f "$f" ] && [ -x "$f" ] || continue
	tests+=("unit/${f#build/unit/}")
done
for f in tests/e2e/*.sh; do
	[ -f "$f" ] || continue
	case ${f##*/} in lib.sh) continue ;; esac
	n=${f##*/}
	tests+=("e2e/${n%.sh}")
done
for f in tests/long/*.sh; do
	[ -f "$f" ] && [ -z "${LT_ARM64_SUITE:-}" ] || continue
	n=${f##*/}
	tests+=("long/${n%.sh}")
done
for f in tests/e2e/*.sh; do
	n=${f##*/}
	case $n in lib.sh|agent_*) continue ;; esac
	case " ${LT_E2E_ENGINES:-agent trap} " in *" trap "*) ;; *) continue ;; esac
	tests+=("e2e/${n%.sh}@trap")
done
for f in build/fuzz/*; do
	[ -f "$f" ] && [ -x "$f" ] && case $f in *-*) continue ;; esac || continue
	tests+=("fuzz/${f#build/fuzz/}")
done

selected() {
	[ $# -eq 1 ] && return 0
	local name=$1 p; shift
	for p in "$@"; do
		case $p in =*) [ "$name" = "${p#=}" ] && return 0; continue ;; esac
		case $name in *"$p"*|$p) return 0 ;; esac
	done
	return 1
}

# run_test NAME: runs one test; prints its PASS, SKIP or FAIL line (and
# the end of its log on failure); returns 0, 77 or 1.
run_test() {
	local t=$1 cmd limit log start rc secs why
	case $t in
	unit/*) cmd=("$ROOT/build/unit/${t#unit/}") ;;
	fuzz/*) cmd=("$ROOT/tests/fuzz/run.sh" "${t#fuzz/}") ;;
	e2e/*@trap) n=${t#e2e/}; cmd=(env LEAKTRAP_ENGINE=trap bash "$ROOT/tests/e2e/${n%@trap}.sh") ;;
	e2e/*) cmd=(env LEAKTRAP_ENGINE=agent bash "$ROOT/tests/e2e/${t#e2e/}.sh") ;;
	long/*) cmd=(env LEAKTRAP_ENGINE=agent bash "$ROOT/tests/${t}.sh") ;;
	esac
	limit=$TIMEOUT
	case $t in long/*) limit=$((2 * TIMEOUT + ${SOAK_S:-600})) ;; esac
	log=$LOGS/${t//\//_}.log
	log=${log//@/_}
	start=$(date +%s)
	timeout -k 10 "$limit" "${cmd[@]}" </dev/null >"$log" 2>&1
	rc=$?
	secs=$(( $(date +%s) - start ))
	case $rc in
	0)
		echo "PASS $t (${secs}s)"
		# a long test's log holds its figures (peaks, drops): kept
		case $t in long/*) echo "    log: ${log#"$ROOT"/}" ;; *) rm -f "$log" ;; esac
		return 0
		;;
	77)
		echo "SKIP $t"
		tail -1 "$log" | sed -n 's/.*SKIP: /    /p'
		rm -f "$log"
		return 77
		;;
	esac
	why="exit $rc"
	[ $rc = 124 ] || [ $rc = 137 ] && why="timed out after ${limit}s"
	[ $rc = 99 ] && why="harness error"
	echo "FAIL $t (${secs}s, $why; log: ${log#"$ROOT"/})"
	tail -n 40 "$log" | sed 's/^/    /'
	return 1
}

pass=0 failn=0 skipn=0
# tally RC: counts a result of run_test.
tally() {
	case $1 in
	0) pass=$((pass + 1)) ;;
	77) skipn=$((skipn + 1)) ;;
	*) failn=$((failn + 1)) ;;
	esac
}

# On an x86-64 host the arm64 VM suites run after the host's tests (below);
# the long tests then run alongside them, at nice 19, so that the suite's
# time is that of the VM suites rather than the sum (they take the CPU the
# VM leaves, and the VM keeps what it asks for).
vm_cpus=
[ "$(uname -m)" = x86_64 ] && [ -z "${LT_ARM64_SUITE:-}" ] && vm_cpus=${LT_ARM64_CPUS-cortex-a57 max}
later=()
for t in "${tests[@]}"; do
	selected "$t" "$@" || continue
	case $t in long/*) [ -n "$vm_cpus" ] && { later+=("$t"); continue; } ;; esac
	run_test "$t"
	tally $?
done
bg=()
for t in "${later[@]}"; do
	f=$LOGS/${t//\//_}.result
	( renice -n 19 -p "$BASHPID" >/dev/null; run_test "$t" >"$f.out"; echo $? >"$f.rc" ) &
	bg+=("$!:$t")
	echo "(started $t, at nice 19, alongside the arm64 VM suites: its result comes at the end)"
done
# On an x86-64 host, the same suite in an arm64 VM, once per CPU model
# (scripts/arm64-suite.sh; LT_ARM64_CPUS="" leaves it out): its tests count
# here as arm64-CPU/NAME.
for cpu in $vm_cpus; do
	out=$LOGS/arm64-$cpu.out
	"$ROOT/scripts/arm64-suite.sh" "$cpu" "$@" | tee "$out" | grep --line-buffered -v -E '^[0-9]+ passed, '
	counts=$(tail -1 "$out" | sed -n -E 's/^([0-9]+) passed, ([0-9]+) failed, ([0-9]+) skipped$/\1 \2 \3/p')
	if [ -n "$counts" ]; then
		read -r p f k <<<"$counts"
		pass=$((pass + p)) failn=$((failn + f)) skipn=$((skipn + k))
	else
		echo "FAIL arm64-$cpu/suite (the VM suite did not finish; output in ${out#"$ROOT"/})"
		tail -n 20 "$out" | sed 's/^/    /'
		failn=$((failn + 1))
	fi
done
for j in "${bg[@]}"; do
	t=${j#*:}
	f=$LOGS/${t//\//_}.result
	wait "${j%%:*}"
	cat "$f.out" 2>/dev/null
	tally "$(cat "$f.rc" 2>/dev/null || echo 1)"
	rm -f "$f.out" "$f.rc"
done
echo "$pass passed, $failn failed, $skipn skipped"
if [ $((pass + failn + skipn)) = 0 ]; then
	echo "run.sh: no test matched${1:+: $*}" >&2
	exit 1
fi
[ "$failn" = 0 ]
