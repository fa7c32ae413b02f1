#!/bin/bash
# bad_input: every refusal is one line on stderr starting "leaktrap: ", a
# non-zero exit (2 for bad usage, 1 otherwise), nothing on stdout, within
# 10s, and the process named is untouched: still running (or still what it
# was), TracerPid 0, code identical.
# Refused processes: an unknown PID, a kernel thread (pid 2 when it is
# kthreadd), a zombie, a process whose main thread has exited while another
# runs (leader_exits), a 32-bit process (x86-64), static executables with
# no malloc (one with a symbol table, one stripped: x86-64), one whose every
# allocation function the relocator refuses (x86-64), leaktrap's own PID,
# its parent's (the shell waiting for it). Bad usage: malformed --duration
# (5x, -1s, 99999999999999999h), --min-age 5x, --sample-interval 12q,
# --top x, --format xml, -p abc, an unknown option, missing option values.
# (strace-traced and permission-denied cases: bad_input_traced.sh and
# bad_input_nobody.sh.)
. "$(dirname "$0")/lib.sh"

# refused WANT_RC DESCRIPTION ARGS...: runs leaktrap ARGS and checks the refusal.
TIMEOUTS=0
refused() {
	local want=$1 what=$2; shift 2
	run_lt 10 "$@"
	if [ "$LTRC" = 124 ] || [ "$LTRC" = 137 ]; then
		TIMEOUTS=$((TIMEOUTS + 1))
		[ "$TIMEOUTS" -lt 3 ] || die "leaktrap hung on bad input 3 times: stopping here"
	fi
	local nl first
	nl=$(grep -c '' "$LTERR")
	first=$(head -1 "$LTERR")
	if [ "$LTRC" != "$want" ]; then
		fail "$what: leaktrap $* exited $LTRC, wanted $want (stderr: $(head -3 "$LTERR" | tr '\n' '|'))"
	elif [ "$nl" != 1 ] || [ "${first#leaktrap: }" = "$first" ]; then
		fail "$what: leaktrap $* wrote $nl lines on stderr, wanted one line starting 'leaktrap: ': $(head -5 "$LTERR" | tr '\n' '|')"
	elif [ -s "$LTOUT" ]; then
		fail "$what: leaktrap $* wrote on stdout: $(head -3 "$LTOUT" | tr '\n' '|')"
	else
		log "ok, $what: exit $LTRC, $first"
	fi
}

start_target leak_single
VICTIM=$TPID
snap "$VICTIM" before

# --- bad usage: exit 2, the valid target untouched after each
for args in "--duration 5x" "--duration -1s" "--duration 99999999999999999h" \
	    "--min-age 5x" "--sample-interval 12q" "--top x" "--format xml" "--bogus" \
	    "--duration"; do
	refused 2 "bad usage '$args'" report -p "$VICTIM" $args
	untraced "$VICTIM"
done
refused 2 "-p abc" report -p abc --duration 1s
refused 2 "-p without a value" report -p
untraced "$VICTIM"

# --- processes that cannot be examined: exit 1
read -r pid_max </proc/sys/kernel/pid_max
unknown=$((pid_max - 1))
while [ -e "/proc/$unknown" ]; do unknown=$((unknown - 1)); done
refused 1 "unknown pid $unknown" report -p "$unknown" --duration 1s

if grep -q '^Kthread:[[:space:]]*1' /proc/2/status 2>/dev/null ||
   { [ -r /proc/2/stat ] && [ $(( $(awk '{ print $9 }' /proc/2/stat) & 0x200000 )) != 0 ]; }; then
	st2=$(proc_state 2)
	refused 1 "kernel thread pid 2 ($(cat /proc/2/comm))" report -p 2 --duration 1s
	[ "$(tracer_of 2)" = 0 ] || fail "pid 2 has TracerPid $(tracer_of 2)"
	[ "$(proc_state 2)" = "$st2" ] || fail "pid 2 was in state $st2, now $(proc_state 2)"
else
	log "pid 2 is not a kernel thread here: kernel-thread case not run"
fi

# a zombie: the child of a sleep that never reaps it
sh -c 'true & exec sleep 60' </dev/null >/dev/null 2>&1 &
zparent=$!
STARTED="$STARTED $zparent"
zombie=
for i in $(seq 1 100); do
	for c in $(cat /proc/$zparent/task/*/children 2>/dev/null); do
		[ "$(proc_state "$c")" = Z ] && zombie=$c
	done
	[ -n "$zombie" ] && break
	sleep 0.05
done
if [ -n "$zombie" ]; then
	refused 1 "zombie $zombie" report -p "$zombie" --duration 1s
	[ "$(proc_state "$zombie")" = Z ] || fail "zombie $zombie is now in state '$(proc_state "$zombie")'"
	alive "$zparent" || fail "the zombie's parent $zparent died"
else
	fail "could not make a zombie (harness)"
fi

# a process whose main thread has exited (pthread_exit) while another runs
"$TARGETS/leader_exits" </dev/null >"$T/leader.out" 2>&1 &
lpid=$!
STARTED="$STARTED $lpid"
wait_line "$T/leader.out" '^ready' 10 "$lpid" || fail "leader_exits did not start (harness)"
for i in $(seq 1 100); do [ "$(proc_state "$lpid")" = Z ] && break; sleep 0.05; done
refused 1 "main thread exited, pid $lpid" report -p "$lpid" --duration 1s
grep -q 'main thread has exited' "$LTERR" || fail "leaktrap does not say that the main thread of $lpid has exited"
untraced "$lpid" Z
[ "$(ls /proc/$lpid/task | wc -l)" -ge 2 ] || fail "leader_exits lost its worker thread"
kill -TERM "$lpid"

# a 32-bit process (x86-64 only: built here from two instructions)
if [ "$(uname -m)" = x86_64 ] &&
   printf '.globl _start\n_start:\n1:\tmov $29, %%eax\n\tint $0x80\n\tjmp 1b\n' |
   cc -m32 -nostdlib -static -x assembler - -o "$T/pause32" 2>/dev/null; then
	"$T/pause32" </dev/null >/dev/null 2>&1 &
	p32=$!
	STARTED="$STARTED $p32"
	sleep 0.1
	refused 1 "32-bit process $p32" report -p "$p32" --duration 1s
grep -q '32-bit' "$LTERR" || fail "leaktrap does not say that $p32 is a 32-bit process"
	untraced "$p32"
	kill -TERM "$p32"
else
	log "no 32-bit x86 executable can be built here: 32-bit case not run"
fi

# processes with no allocator leaktrap can find: a static executable that
# defines no malloc (built here: pause in a loop), and a stripped one
# (x86-64 only)
if [ "$(uname -m)" = x86_64 ] &&
   printf '.globl _start\n_start:\n1:\tmov $34, %%eax\n\tsyscall\n\tjmp 1b\n' |
   cc -nostdlib -static -x assembler - -o "$T/pause64" 2>/dev/null; then
	for exe in pause64 stripped; do
		[ $exe = stripped ] && { strip -o "$T/stripped" "$T/pause64" || harness "strip failed"; }
		"$T/$exe" </dev/null >/dev/null 2>&1 &
		pn=$!
		STARTED="$STARTED $pn"
		sleep 0.1
		refused 1 "static $exe $pn without malloc" report -p "$pn" --duration 1s
		if [ $exe = stripped ]; then want='stripped static executable'; else want='defines no malloc'; fi
		grep -q "$want" "$LTERR" || fail "leaktrap does not say '$want' of $exe"
		untraced "$pn"
		kill -TERM "$pn"
	done
	# and one whose malloc and free start with jrcxz, which no patch can
	# displace: refused with the reason, the target as it was
	printf '%s\n' '.globl _start' '_start: mov $34, %eax' 'syscall' 'call malloc' 'jmp _start' \
		'.globl malloc' '.type malloc, @function' 'malloc: jrcxz 1f' '1: xor %eax, %eax' 'ret' \
		'.size malloc, .-malloc' '.globl free' '.type free, @function' 'free: jrcxz 2f' '2: ret' \
		'.size free, .-free' | cc -nostdlib -static -x assembler - -o "$T/unhookable" ||
		harness "cannot build the unhookable target"
	"$T/unhookable" </dev/null >/dev/null 2>&1 &
	pn=$!
	STARTED="$STARTED $pn"
	sleep 0.1
	snap "$pn" before.unhookable
	refused 1 "every allocation function refused, pid $pn" report -p "$pn" --duration 1s
	grep -q 'could be hooked: malloc (.*jrcxz' "$LTERR" ||
		fail "leaktrap does not say that malloc was refused, and why"
	untraced "$pn"
	same_code "$pn" before.unhookable
	kill -TERM "$pn"
else
	log "no static executable without a C library can be built here: no-allocator cases not run"
fi

# refusal_of WHAT RE: leaktrap (run by hand: LTRC, LTOUT, LTERR set) exited
# 1 with one line on stderr, matching RE, and nothing on stdout.
refusal_of() {
	local nl first
	nl=$(grep -c '' "$LTERR"); first=$(head -1 "$LTERR")
	if [ "$LTRC" != 1 ] || [ "$nl" != 1 ] || [ "${first#leaktrap: }" = "$first" ] || [ -s "$LTOUT" ] ||
	   ! grep -Eq -- "$2" "$LTERR"; then
		fail "$1: exit '$LTRC' (wanted 1), stderr $nl lines (wanted one matching '$2'): $(head -3 "$LTERR" | tr '\n' '|'), stdout $(wc -c <"$LTOUT") bytes"
	else
		log "ok, $1: exit $LTRC, $first"
	fi
}

# leaktrap's own pid
SEQ=$((SEQ + 1)); LTOUT=$T/self.out; LTERR=$T/self.err
timeout -k 5 10 sh -c 'exec "$0" report -p $$ --duration 1s' "$LT" >"$LTOUT" 2>"$LTERR" </dev/null
LTRC=$?
refusal_of "own pid" "is leaktrap itself"

# leaktrap's parent: the shell that runs it and waits for it
SEQ=$((SEQ + 1)); LTOUT=$T/parent.out; LTERR=$T/parent.err
timeout -k 5 10 bash -c '"$0" report -p $$ --duration 1s; echo "$?" >&3' "$LT" \
	3>"$T/parent.rc" >"$LTOUT" 2>"$LTERR" </dev/null
LTRC=$(cat "$T/parent.rc")
refusal_of "parent pid" "is leaktrap's parent"

# the target is untouched by all of that
untraced "$VICTIM"
same_code "$VICTIM" before
go_target 20
stop_target "$VICTIM" 0
finish
