#!/bin/bash
# bench.sh: leaktrap's performance figures, each a ratio from one run on this
# machine (run through `make bench`; the README quotes its output).
#   1. churn: THREADS threads of malloc/free in a tight loop, native vs with
#      leaktrap attached (trap and agent engines) at the default interval, at
#      64 KiB and at 1 GiB; and under the peers a user would otherwise pick,
#      when installed: heaptrack -p, and a bpftrace uprobe/uretprobe script
#      equivalent to BCC's memleak;
#   2. the cost of one sampled event inside the target, both engines, vs a
#      bare ptrace stop round trip;
#   3. the stop-the-world pause of attach and of detach on an 8-thread target;
#   4. leaktrap's own memory with 100,000 sampled allocations live.
# BENCH_PARTS (default "churn event pause memory") picks the sections.
set -u
cd "$(dirname "$0")/.."
B=build/bench
mkdir -p $B
cc -O2 -pthread -o $B/churn scripts/bench/churn.c
cc -O2 -o $B/sample_cost scripts/bench/sample_cost.c
cc -O2 -o $B/ptrace_rt scripts/bench/ptrace_rt.c
THREADS=${THREADS:-4}
ITERS=${ITERS:-20000000}   # ~1 s of tight loop: long enough for a steady state
TARGET_CPU= LT_CPU=        # attached(): CPUs to pin the target and leaktrap to
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf $tmp' EXIT

# Starts "$@" (a program that prints "ready PID" and waits for SIGUSR1),
# attaches leaktrap with $LT_OPTS, starts the work, and prints the
# program's own output line when it is done.
attached() {
	: > $tmp/out; : > $tmp/lt	# not the last run's "ready" and "hooks active"
	${TARGET_CPU:+taskset -c $TARGET_CPU} "$@" wait > $tmp/out &
	local pid=$!
	until grep -q ready $tmp/out 2>/dev/null; do sleep 0.01; done
	${LT_CPU:+taskset -c $LT_CPU} ./leaktrap report -p $pid --duration 1h --format json \
		-o $tmp/rep.json $LT_OPTS 2> $tmp/lt &
	local lt=$!
	until grep -q 'hooks active' $tmp/lt 2>/dev/null; do
		kill -0 $lt 2>/dev/null || { cat $tmp/lt >&2; return 1; }
		sleep 0.01
	done
	kill -USR1 $pid
	wait $pid
	kill -INT $lt 2>/dev/null	# it may have ended with the target already
	wait $lt
	python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["totals"]; print("; %d events dropped" % (r["dropped"] + r["frees_lost"]))' $tmp/rep.json > $tmp/drops 2>/dev/null
	tail -1 $tmp/out
}

# Like attached, under heaptrack -p (which injects itself through gdb and
# records every allocation until the target exits).
under_heaptrack() {
	: > $tmp/out
	"$@" wait > $tmp/out &
	local pid=$!
	until grep -q ready $tmp/out 2>/dev/null; do sleep 0.01; done
	: > $tmp/ht
	(cd $tmp && timeout 600 heaptrack -p $pid > $tmp/ht 2>&1) &
	local ht=$!
	until grep -q 'injection finished\|heaptrack output will be written' $tmp/ht 2>/dev/null; do
		kill -0 $ht 2>/dev/null || { cat $tmp/ht >&2; kill $pid; return 1; }
		sleep 0.05
	done
	sleep 0.5
	kill -USR1 $pid
	wait $pid
	wait $ht
	rm -f $tmp/heaptrack.*
	tail -1 $tmp/out
}

# Like attached, under a bpftrace script that does what BCC's memleak does:
# a uprobe and a uretprobe on malloc recording size and user stack of every
# allocation, a uprobe on free deleting it.
under_bpftrace() {
	local libc
	# bpftrace's uprobes need tracefs, which a minimal VM may not mount
	[ -e /sys/kernel/tracing/uprobe_events ] || mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null
	libc=$(ldconfig -p | awk '/libc.so.6 .*x86-64|libc.so.6 .*AArch64|libc.so.6 \(libc6/ { print $NF; exit }')
	: > $tmp/out
	"$@" wait > $tmp/out &
	local pid=$!
	until grep -q ready $tmp/out 2>/dev/null; do sleep 0.01; done
	: > $tmp/bt
	timeout 600 bpftrace -p $pid -e "
uprobe:$libc:malloc /pid == $pid/ { @size[tid] = arg0; }
uretprobe:$libc:malloc /pid == $pid/ { @live[retval] = (@size[tid], ustack); delete(@size[tid]); }
uprobe:$libc:free /pid == $pid/ { delete(@live[arg0]); }
END { clear(@live); clear(@size); }" > $tmp/bt 2>&1 &
	local bt=$!
	until grep -q 'Attaching' $tmp/bt 2>/dev/null; do
		kill -0 $bt 2>/dev/null || { cat $tmp/bt >&2; kill $pid; return 1; }
		sleep 0.05
	done
	sleep 1
	kill -USR1 $pid
	wait $pid
	kill -INT $bt 2>/dev/null
	wait $bt
	tail -1 $tmp/out
}

# The median of three runs of "$@" (each prints one number).
median3() {
	{ "$@"; "$@"; "$@"; } | sort -g | sed -n 2p
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }

PARTS=${BENCH_PARTS:-churn event pause memory}
part() { case " $PARTS " in *" $1 "*) return 0 ;; esac; return 1; }
echo "leaktrap benchmark, $(date -u +%Y-%m-%d), $(nproc) cores, $(uname -r)"
echo
# WORK=0: the tight loop (tens of GB/s of allocation); WORK=200: a loop that
# computes between allocations, closer to a busy service (~1 GB/s).
# A result row, with the samples and drops of its last run.
row() {
	printf '  %-56s %8.3f s  %s%s\n' "$1" "$2" "$(ratio $2 $native)" \
		"$(cat $tmp/drops)"
}
part churn && for work in 0 200; do
	iters=$ITERS; [ $work = 0 ] || iters=$((ITERS / 10))
	native=$(median3 $B/churn $THREADS $iters $work)
	gbs=$(awk -v t="$native" -v n=$((THREADS * iters)) 'BEGIN { printf "%.1f", n * 271 / t / 1e9 }')
	echo "churn, $THREADS threads x $iters malloc/free pairs, $work work steps between ($gbs GB/s native), median of 3:"
	printf '  %-56s %8.3f s\n' "native" "$native"
	for engine in trap agent; do
		LT_OPTS="--engine $engine" t=$(median3 attached $B/churn $THREADS $iters $work)
		row "leaktrap $engine, default interval (512 KiB)" "$t"
		LT_OPTS="--engine $engine --sample-interval 64k" t=$(median3 attached $B/churn $THREADS $iters $work)
		row "leaktrap $engine, 64 KiB interval" "$t"
		LT_OPTS="--engine $engine --sample-interval 1g" t=$(median3 attached $B/churn $THREADS $iters $work)
		row "leaktrap $engine, 1 GiB interval (unsampled path only)" "$t"
	done
	# the peers record every allocation: one run each, a tenth of the work
	piters=$((iters / 10))
	pnative=$(median3 $B/churn $THREADS $piters $work)
	if command -v heaptrack >/dev/null && command -v gdb >/dev/null; then
		t=$(under_heaptrack $B/churn $THREADS $piters $work)
		[ -n "$t" ] && printf '  %-56s %8.3f s  %s (vs native %.3f s, %s pairs)\n' "heaptrack -p (every allocation)" \
			"$t" "$(ratio $t $pnative)" "$pnative" "$piters"
	else
		echo "  heaptrack -p: not installed (apt-get install heaptrack gdb)"
	fi
	if command -v bpftrace >/dev/null; then
		t=$(under_bpftrace $B/churn $THREADS $piters $work)
		[ -n "$t" ] && printf '  %-56s %8.3f s  %s (vs native %.3f s, %s pairs)\n' "bpftrace memleak-like uprobes (every allocation)" \
			"$t" "$(ratio $t $pnative)" "$pnative" "$piters"
	else
		echo "  bpftrace: not installed (apt-get install bpftrace)"
	fi
done

if part event; then
# The trap engine's event against a bare ptrace stop round trip with the
# same placement: target and tracer pinned to two CPUs, then to one. How
# fast an idle virtual CPU wakes up varies from run to run on a virtual
# machine (5 to 100 us here), and both figures of a pair pay it alike.
rt2=$($B/ptrace_rt 20000 split)
rt1=$(taskset -c 0 $B/ptrace_rt 20000)
n=5000
sc_native=$(median3 taskset -c 0 $B/sample_cost $n)
LT_OPTS="--every --engine trap" TARGET_CPU=0 LT_CPU=1
sc_lt=$(median3 attached $B/sample_cost $n)
event2=$(awk -v a="$sc_lt" -v b="$sc_native" 'BEGIN { printf "%.2f", a - b }')
LT_CPU=0
sc_lt=$(median3 attached $B/sample_cost $n)
event1=$(awk -v a="$sc_lt" -v b="$sc_native" 'BEGIN { printf "%.2f", a - b }')
TARGET_CPU= LT_CPU=
# The agent's events cost the target little enough that a burst of them
# measures the reader: sample 1 in 64 of N 64-byte blocks instead (4 KiB
# interval), spread out, and divide the difference by the events taken.
# The first 512 events of a session also fault in the ring's 4 MiB (and
# the sampled-address table's pages): 3,000 events show that, 30,000
# mostly not. (Events the ring had no room for cost less and are not
# counted, so a run with drops overstates the cost of the others.)
agent_event() {
	local n=$1 native attached events
	native=$(median3 $B/sample_cost $n)
	attached=$(LT_OPTS="--engine agent --sample-interval 4k" median3 attached $B/sample_cost $n)
	events=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["totals"]["samples"])' $tmp/rep.json)
	awk -v a="$attached" -v b="$native" -v n=$n -v e="$events" 'BEGIN { printf "%.2f %d", (a - b) * n / e, e }'
}
read event_ag events < <(agent_event 200000)
read event_ag2 events2 < <(agent_event 2000000)
echo
echo "one sampled event, seen from the target (median of 3 runs):"
printf '  %-56s %8.2f us\n' "bare ptrace stop round trip (tracer on another CPU)" "$rt2"
printf '  %-56s %8.2f us  %s of the bare round trip\n' "trap engine, the same placement ($n events)" "$event2" "$(ratio $event2 $rt2)"
printf '  %-56s %8.2f us\n' "bare ptrace stop round trip (both on one CPU)" "$rt1"
printf '  %-56s %8.2f us  %s of the bare round trip\n' "trap engine, the same placement" "$event1" "$(ratio $event1 $rt1)"
printf '  %-56s %8.2f us\n' "agent engine (record + stack copy; first $events events)" "$event_ag"
printf '  %-56s %8.2f us\n' "agent engine (the same; first $events2 events)" "$event_ag2"
fi

if part pause; then
echo
$B/churn 8 2000000000 0 wait > $tmp/out8 &
pid=$!
until grep -q ready $tmp/out8 2>/dev/null; do sleep 0.01; done
kill -USR1 $pid
sleep 0.5
echo "stop-the-world pauses on an 8-thread churning target:"
for engine in trap agent; do
	./leaktrap report -p $pid --duration 1s --engine $engine > /dev/null 2> $tmp/pause
	sed -n "s/.*pauses: attach \([0-9.]*\) ms, detach \([0-9.]*\) ms.*/  $engine engine: attach \1 ms, detach \2 ms/p" $tmp/pause
done
kill $pid
fi

if part memory; then
echo
echo "leaktrap's own memory with 100,000 sampled allocations live (--every):"
: > $tmp/many
build/targets/leak_many 200000 > $tmp/many &
pid=$!
until grep -q ready $tmp/many 2>/dev/null; do sleep 0.01; done
for engine in trap agent; do
	# status once the target has allocated everything (the trap engine
	# takes seconds for 200,000 events): the commands come through a fifo
	rm -f $tmp/cmd; mkfifo $tmp/cmd
	: > $tmp/lt
	./leaktrap -p $pid --every --engine $engine -x - < $tmp/cmd > $tmp/st 2> $tmp/lt &
	lt=$!
	exec 3> $tmp/cmd
	until grep -q 'hooks active' $tmp/lt 2>/dev/null; do sleep 0.01; done
	kill -USR1 $pid
	for i in $(seq 600); do grep -q done $tmp/many && break; sleep 0.1; done
	echo status >&3
	exec 3>&-
	wait $lt
	live=$(sed -n 's/^live: .* in \([0-9]*\) sampled allocations.*/\1/p' $tmp/st)
	rss=$(sed -n 's/^memory: .*leaktrap peak RSS \(.*\)$/\1/p' $tmp/st)
	printf '  %-56s %s live, peak RSS %s\n' "$engine engine" "$live" "$rss"
	kill $pid; wait $pid 2>/dev/null
	: > $tmp/many
	build/targets/leak_many 200000 > $tmp/many &
	pid=$!
	until grep -q ready $tmp/many 2>/dev/null; do sleep 0.01; done
done
kill $pid
fi
