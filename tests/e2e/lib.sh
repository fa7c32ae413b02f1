# lib.sh: helpers sourced by every tests/e2e/*.sh script (not a test itself).
#
# A test script does:   . "$(dirname "$0")/lib.sh"
# and gets: a scratch directory $T, cleanup of every process it started (on
# any exit), bounded waits, target/leaktrap launchers, code snapshots and the
# JSON checker. Exit codes: 0 pass, 1 fail, 77 skip, 99 broken harness.
#
# Environment:
#   LEAKTRAP    the binary under test (default: ROOT/leaktrap)
#   KEEP_TMP=1  keep $T after the test (its path is printed)
#   LT_SLOW=N   a machine N times slower than the host (the arm64 VM):
#               `dur S` gives the sessions that must outlast a snapshot
#               N*S seconds

set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LT=${LEAKTRAP:-$ROOT/leaktrap}
TARGETS=$ROOT/build/targets
CHECKPY=$ROOT/tests/e2e/report_check.py
TEST_NAME=$(basename "$0" .sh)
FAILED=0
T=$(mktemp -d "${TMPDIR:-/tmp}/leaktrap-$TEST_NAME.XXXXXX") || exit 99
STARTED=""          # pids of everything we started, killed on exit
SEQ=0

# dur S: S seconds, times LT_SLOW.
dur() { echo $(( $1 * ${LT_SLOW:-1} )); }
log() { local f=${EPOCHREALTIME#*[.,]}; printf '[%(%T)T.%s] %s\n' -1 "${f:0:3}" "$*"; }
# fail: record a failure and go on (the test exits 1 at finish).
fail() { log "FAIL: $*"; FAILED=1; }
# die: fail and stop now.
die() { fail "$*"; exit 1; }
skip() { log "SKIP: $*"; exit 77; }
harness() { log "HARNESS ERROR: $*"; exit 99; }
# finish: the last line of every test.
finish() {
	if [ "$FAILED" = 0 ]; then log "PASS $TEST_NAME"; exit 0; fi
	local f
	for f in "$T"/lt.*.err; do	# what leaktrap said, for the failure log
		[ -s "$f" ] && { echo "--- $f"; grep -v 'hooks active' "$f" | tail -20; }
	done
	log "FAILED $TEST_NAME"; exit 1
}

_cleanup() {
	local p
	for p in $STARTED; do
		kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null
	done
	for p in $STARTED; do
		wait_exit "$p" 5 2>/dev/null
	done
	if [ "${KEEP_TMP:-0}" = 1 ]; then log "kept $T"; else rm -rf "$T"; fi
}
trap _cleanup EXIT
trap 'log "interrupted"; exit 1' INT TERM HUP

command -v python3 >/dev/null || harness "python3 is missing"
[ "${NEED_LT:-1}" = 0 ] || [ -x "$LT" ] || harness "$LT is not built (make leaktrap)"

# check ARGS...: runs report_check.py; its output goes to the log.
check() { timeout 120 python3 "$CHECKPY" "$@"; }

# ---------------------------------------------------------------- processes

# Helpers below use shell builtins where they can: a busy target leaves
# little CPU for forking.

# now_ms: sets NOW_MS to the wall clock in milliseconds.
now_ms() { local t=${EPOCHREALTIME/[.,]/}; NOW_MS=$((t / 1000)); }

# proc_state PID: prints the state letter from /proc/PID/stat ("" if gone).
proc_state() {
	local s
	read -r s 2>/dev/null <"/proc/$1/stat" || return 0
	s=${s##*) }
	printf '%s' "${s%% *}"
}

# tracer_of PID: prints TracerPid of PID ("" if gone). The file is read
# whole, in one read: read's line by line chunks and seeks back, and a
# busy process's status changes between chunks (State: S (sleeping) is one
# byte longer than R (running)), which can garble the TracerPid line.
tracer_of() {
	local s
	{ s=$(<"/proc/$1/status"); } 2>/dev/null || return 0
	[[ $s =~ TracerPid:[[:space:]]*([0-9]+) ]] && printf '%s' "${BASH_REMATCH[1]}"
	return 0
}

# alive PID: true if PID exists and is not a zombie.
alive() {
	local s
	read -r s 2>/dev/null <"/proc/$1/stat" || return 1
	s=${s##*) }
	case ${s%% *} in Z|X|x) return 1 ;; esac
	return 0
}

# wait_exit PID SECONDS: waits for a child of this shell to end, without
# blocking past SECONDS; sets STATUS to its exit status (128+N if killed by
# signal N). Returns 1 on time-out.
wait_exit() {
	local pid=$1 deadline
	now_ms; deadline=$((NOW_MS + ${2%s} * 1000))
	while alive "$pid"; do
		now_ms; [ "$NOW_MS" -gt "$deadline" ] && return 1
		sleep 0.05
	done
	wait "$pid" 2>/dev/null
	STATUS=$?
	return 0
}

# wait_line FILE REGEX SECONDS [PID]: waits until a line of FILE matches the
# extended REGEX; gives up after SECONDS, or at once if PID ends.
wait_line() {
	local f=$1 re=$2 deadline pid=${4:-}
	now_ms; deadline=$((NOW_MS + ${3%s} * 1000))
	while :; do
		grep -Eq -- "$re" "$f" 2>/dev/null && return 0
		if [ -n "$pid" ] && ! alive "$pid"; then
			grep -Eq -- "$re" "$f" 2>/dev/null && return 0
			return 2
		fi
		now_ms; [ "$NOW_MS" -gt "$deadline" ] && return 1
		sleep 0.02
	done
}

# start_target NAME [ARGS...]: starts build/targets/NAME, waits for "ready".
# Sets TPID, TOUT (its stdout file) and TERR.
start_target() {
	local name=$1; shift
	local bin=$TARGETS/$name
	[ -x "$bin" ] || harness "$bin is not built (make tests)"
	SEQ=$((SEQ + 1))
	TOUT=$T/$name.$SEQ.out
	TERR=$T/$name.$SEQ.err
	: >"$TOUT"
	"$bin" "$@" >"$TOUT" 2>"$TERR" </dev/null &
	TPID=$!
	STARTED="$STARTED $TPID"
	if ! wait_line "$TOUT" '^ready [0-9]+$' "${READY_S:-15}" "$TPID"; then
		cat "$TOUT" "$TERR"
		die "target $name did not print 'ready' within ${READY_S:-15}s"
	fi
	local said
	said=$(awk '/^ready/ { print $2; exit }' "$TOUT")
	[ "$said" = "$TPID" ] || harness "target $name says ready $said but its pid is $TPID"
	log "target $name started: pid $TPID"
}

# go_target [SECONDS]: sends SIGUSR1 to $TPID and waits for its "done".
go_target() {
	kill -USR1 "$TPID" || die "cannot signal target $TPID"
	if ! wait_line "$TOUT" '^done$' "${1:-60}" "$TPID"; then
		cat "$TOUT" "$TERR"
		die "target $TPID did not print 'done' within ${1:-60}s after SIGUSR1"
	fi
	grep -q '^FAIL' "$TOUT" && fail "target $TPID reports: $(grep '^FAIL' "$TOUT" | head -5)"
	log "target $TPID done"
}

# stop_target [PID [WANT_STATUS [OUTFILE]]]: SIGTERM, then the exit status
# must be WANT_STATUS (default 0) within 20s.
stop_target() {
	local pid=${1:-$TPID} want=${2:-0} out=${3:-$TOUT}
	kill -TERM "$pid" 2>/dev/null || { fail "target $pid is gone before SIGTERM"; return 1; }
	if ! wait_exit "$pid" 20; then
		fail "target $pid did not exit within 20s of SIGTERM (state $(proc_state "$pid"), TracerPid $(tracer_of "$pid"))"
		return 1
	fi
	if [ "$STATUS" != "$want" ]; then
		fail "target $pid exited with status $STATUS (128+N = signal N), wanted $want"
		tail -5 "$out" 2>/dev/null
		return 1
	fi
	log "target $pid exited with status $STATUS as wanted"
}

# ---------------------------------------------------------------- leaktrap

# Background jobs of a non-interactive shell start with SIGINT and SIGQUIT
# ignored; leaktrap must be started as a user would start it.
LTENV="env --default-signal=INT,QUIT,TERM,HUP,PIPE"

# start_lt ARGS...: starts leaktrap ARGS in the background, waits for
# "hooks active" on its stderr (30s). Sets LTPID, LTOUT, LTERR.
start_lt() {
	SEQ=$((SEQ + 1))
	LTOUT=$T/lt.$SEQ.out
	LTERR=$T/lt.$SEQ.err
	: >"$LTERR"
	log "leaktrap $*"
	now_ms; LT_STARTED_AT=$NOW_MS
	$LTENV "$LT" "$@" >"$LTOUT" 2>"$LTERR" </dev/null &
	LTPID=$!
	STARTED="$STARTED $LTPID"
	wait_line "$LTERR" 'hooks active' 30 "$LTPID"
	case $? in
	0) now_ms; log "hooks active after $((NOW_MS - LT_STARTED_AT)) ms" ;;
	1) cat "$LTERR"; die "leaktrap did not say 'hooks active' within 30s" ;;
	*) wait_exit "$LTPID" 5; cat "$LTERR"
	   die "leaktrap exited (status $STATUS) without saying 'hooks active'" ;;
	esac
}

# wait_lt SECONDS: waits for the background leaktrap; sets LTRC. A leaktrap
# still running after SECONDS is a failure (and is killed).
wait_lt() {
	if ! wait_exit "$LTPID" "$1"; then
		kill -KILL "$LTPID" 2>/dev/null
		wait_exit "$LTPID" 5
		cat "$LTERR"
		die "leaktrap $LTPID did not finish within $1s (killed)"
	fi
	LTRC=$STATUS
	now_ms; LT_MS=$((NOW_MS - LT_STARTED_AT))
	log "leaktrap exited with status $LTRC after $LT_MS ms"
}

# took_about SECONDS [SLACK]: leaktrap, started with --duration SECONDS, must
# not have run more than SLACK (default 5) seconds longer than that (attach,
# detach and the report included).
took_about() {
	if [ "$LT_MS" -gt $(( $1 * 1000 + ${2:-5} * 1000 )) ]; then
		fail "leaktrap with --duration ${1}s ran for $LT_MS ms"
	fi
}

# run_lt SECONDS ARGS...: runs leaktrap in the foreground (bounded by
# SECONDS); sets LTRC, LTOUT, LTERR.
run_lt() {
	local secs=$1; shift
	SEQ=$((SEQ + 1))
	LTOUT=$T/lt.$SEQ.out
	LTERR=$T/lt.$SEQ.err
	now_ms; LT_STARTED_AT=$NOW_MS
	timeout -k 5 "$secs" $LTENV "$LT" "$@" >"$LTOUT" 2>"$LTERR" </dev/null
	LTRC=$?
	now_ms; LT_MS=$((NOW_MS - LT_STARTED_AT))
	[ "$LTRC" = 124 ] || [ "$LTRC" = 137 ] && fail "leaktrap $* did not finish within ${secs}s"
	return 0
}

# expect_lt_ok: leaktrap exited 0 and printed a report on stdout.
expect_lt_ok() {
	if [ "$LTRC" != 0 ]; then
		fail "leaktrap exited with status $LTRC, wanted 0; its stderr:"
		tail -20 "$LTERR"
		return 1
	fi
	if [ ! -s "$LTOUT" ]; then
		fail "leaktrap printed no report on stdout; its stderr:"
		tail -20 "$LTERR"
		return 1
	fi
}

# ---------------------------------------------------------------- code

# snap PID NAME: saves PID's executable mappings and their bytes as $T/NAME.
snap() { check snapshot "$1" "$T/$2" || fail "cannot snapshot the code of $1"; }

# same_code PID BEFORE [LEFT_ADDR]: snapshots again and compares with
# $T/BEFORE (LEFT_ADDR: where leaktrap said its inert region stays mapped).
same_code() {
	local after="$2.after.$SEQ"
	snap "$1" "$after"
	if check compare "$T/$2" "$T/$after" ${3:+"$3"}; then
		log "code of $1 identical to before attach ($(wc -l <"$T/$2/maps") executable mappings)"
	else
		fail "code of $1 differs from before attach"
	fi
}

# untraced PID [STATE_RE]: TracerPid is 0 and the state matches STATE_RE
# (default: running or sleeping, never a trace stop).
untraced() {
	local tp st
	tp=$(tracer_of "$1"); st=$(proc_state "$1")
	# an empty answer is a failed read of /proc (seen once under heavy
	# load), not a tracer: ask again before judging
	[ -n "$tp" ] || { sleep 0.1; tp=$(tracer_of "$1"); st=$(proc_state "$1"); }
	[ "$tp" = 0 ] || fail "process $1 still has TracerPid '$tp' after leaktrap ended"
	if ! printf '%s' "$st" | grep -Eq "^(${2:-R|S|D})$"; then
		fail "process $1 is in state '$st', wanted ${2:-R|S|D}"
	fi
	for tp in /proc/"$1"/task/*; do
		read -r st 2>/dev/null <"$tp/stat" || continue
		st=${st##*) }
		if [ "${st%% *}" = t ]; then fail "thread ${tp##*/} of $1 is left in a trace stop"; fi
	done
}

# ---------------------------------------------------------------- reports

# json_reports PID WHAT FILES...: each FILE is one JSON report for PID with a
# list of groups; names the bad ones ("WHAT N: ..."), and fails if any is.
# (One python for all: a busy target leaves little CPU for one per report.)
json_reports() {
	python3 - "$@" <<'PY'
import json, sys
pid, what, bad = int(sys.argv[1]), sys.argv[2], 0
for i, f in enumerate(sys.argv[3:], 1):
    try:
        r = json.load(open(f))
        assert r["pid"] == pid and isinstance(r["groups"], list), "wrong pid or no groups"
    except Exception as e:
        print("%s %d: %s: %s" % (what, i, f, e)); bad += 1
sys.exit(1 if bad else 0)
PY
}

# check_report PID [schema options...]: schema check of $LTOUT.
# ($ALLOCATOR: what the object defining malloc is called; glibc's libc.so by default)
check_report() {
	local pid=$1; shift
	if check schema "$LTOUT" --pid "$pid" --allocator "${ALLOCATOR:-libc.so}" "$@"; then
		log "report schema ok"
	else
		fail "report does not follow the schema"
	fi
	check summary "$LTOUT" || true
}

# check_sites TRUTH [options]: per-site exact counts of $LTOUT.
check_sites() {
	if check sites "$LTOUT" "$@"; then
		log "every named site matches the target's truth"
	else
		fail "live allocations per site differ from the target's truth"
	fi
}

# every_session TARGET SRC DURATION [TARGET_ARGS...]: the exact-count test.
# Starts TARGET, snapshots its code, runs `leaktrap report --every` for
# DURATION seconds, makes the target do its work while attached, and checks
# exit status, the report against the truth, the code after detach, and
# that the target then exits 0 on SIGTERM.
every_session() {
	local name=$1 src=$2 dur=$3; shift 3
	start_target "$name" "$@"
	snap "$TPID" before
	start_lt report -p "$TPID" --every --duration "${dur}s" --top 0 --format json
	local t_go t_done
	now_ms; t_go=$NOW_MS
	go_target "$dur"
	now_ms; t_done=$NOW_MS
	alive "$LTPID" || fail "leaktrap ended before the target finished its work: --duration ${dur}s was too short for it"
	wait_lt $((dur + 60))
	took_about "$dur"
	now_ms
	# the leaks are between t_go and t_done; the report is made before exit
	AGE_LO=$(( NOW_MS - t_done - 2000 )); AGE_HI=$(( NOW_MS - t_go + 500 ))
	expect_lt_ok || return 1
	untraced "$TPID"
	same_code "$TPID" before
	check_report "$TPID" --every --all-groups --duration "$dur"
	check_sites "$TOUT" --src "$src"
	check ages "$LTOUT" "$TOUT" "$(awk -v x="$AGE_LO" 'BEGIN { print (x < 0 ? 0 : x) / 1000 }')" \
		"$(awk -v x="$AGE_HI" 'BEGIN { print x / 1000 }')" || fail "ages of the leaks are wrong"
	stop_target "$TPID" 0
}
