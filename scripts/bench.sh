#!/bin/bash
# bench.sh: leaktrap's performance figures, each a ratio from one run on this
# machine (run through `make bench`; the README quotes its output).
#   1. churn: THREADS threads of malloc/free in a tight loop, native vs with
#      leaktrap attached at the default interval (and at 64 KiB);
#   2. the cost of one sampled event inside the target (trap + unwind +
#      record, measured by the target) vs a bare ptrace stop round trip;
#   3. the stop-the-world pause of attach and of detach on an 8-thread target.
set -u
cd "$(dirname "$0")/.."
B=build/bench
mkdir -p $B
cc -O2 -pthread -o $B/churn scripts/bench/churn.c
cc -O2 -o $B/sample_cost scripts/bench/sample_cost.c
cc -O2 -o $B/ptrace_rt scripts/bench/ptrace_rt.c
THREADS=${THREADS:-4}
ITERS=${ITERS:-5000000}
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf $tmp' EXIT

# Starts "$@" (a program that prints "ready PID" and waits for SIGUSR1),
# attaches leaktrap with $LT_OPTS, starts the work, and prints the
# program's own output line when it is done.
attached() {
	"$@" wait > $tmp/out &
	local pid=$!
	until grep -q ready $tmp/out 2>/dev/null; do sleep 0.01; done
	./leaktrap report -p $pid --duration 1h $LT_OPTS > /dev/null 2> $tmp/lt &
	local lt=$!
	until grep -q 'hooks active' $tmp/lt 2>/dev/null; do
		kill -0 $lt 2>/dev/null || { cat $tmp/lt >&2; return 1; }
		sleep 0.01
	done
	kill -USR1 $pid
	wait $pid
	kill -INT $lt 2>/dev/null	# it may have ended with the target already
	wait $lt
	tail -1 $tmp/out
}

# The median of three runs of "$@" (each prints one number).
median3() {
	{ "$@"; "$@"; "$@"; } | sort -g | sed -n 2p
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }

echo "leaktrap benchmark, $(date -u +%Y-%m-%d), $(nproc) cores, $(uname -r)"
echo
# WORK=0: the tight loop (tens of GB/s of allocation); WORK=200: a loop that
# computes between allocations, closer to a busy service (~1 GB/s).
for work in 0 200; do
	iters=$ITERS; [ $work = 0 ] || iters=$((ITERS / 10))
	native=$(median3 $B/churn $THREADS $iters $work)
	LT_OPTS="" dflt=$(median3 attached $B/churn $THREADS $iters $work)
	LT_OPTS="--sample-interval 64k" k64=$(median3 attached $B/churn $THREADS $iters $work)
	LT_OPTS="--sample-interval 1g" g1=$(median3 attached $B/churn $THREADS $iters $work)
	gbs=$(awk -v t="$native" -v n=$((THREADS * iters)) 'BEGIN { printf "%.1f", n * 271 / t / 1e9 }')
	echo "churn, $THREADS threads x $iters malloc/free pairs, $work work steps between ($gbs GB/s native), median of 3:"
	printf '  %-56s %8.3f s\n' "native" "$native"
	printf '  %-56s %8.3f s  %s\n' "leaktrap, default interval (512 KiB)" "$dflt" "$(ratio $dflt $native)"
	printf '  %-56s %8.3f s  %s\n' "leaktrap, 64 KiB interval" "$k64" "$(ratio $k64 $native)"
	printf '  %-56s %8.3f s  %s\n' "leaktrap, 1 GiB interval (unsampled path only)" "$g1" "$(ratio $g1 $native)"
done

rt=$($B/ptrace_rt 20000)
rt1=$(taskset -c 0 $B/ptrace_rt 20000)
n=5000
sc_native=$(median3 $B/sample_cost $n)
LT_OPTS="--every" sc_lt=$(median3 attached $B/sample_cost $n)
event=$(awk -v a="$sc_lt" -v b="$sc_native" 'BEGIN { printf "%.2f", a - b }')
echo
echo "one sampled event (trap + unwind + record), seen from the target:"
printf '  %-56s %8.2f us\n' "bare ptrace stop round trip (tracer on another CPU)" "$rt"
printf '  %-56s %8.2f us\n' "bare ptrace stop round trip (both on one CPU)" "$rt1"
printf '  %-56s %8.2f us  %s of the bare round trip\n' "leaktrap sampled event" "$event" "$(ratio $event $rt)"

echo
$B/churn 8 2000000000 0 wait > $tmp/out8 &
pid=$!
until grep -q ready $tmp/out8 2>/dev/null; do sleep 0.01; done
kill -USR1 $pid
sleep 0.5
./leaktrap report -p $pid --duration 1s > /dev/null 2> $tmp/pause
kill $pid
echo "stop-the-world pauses on an 8-thread churning target:"
sed -n 's/.*pauses: attach \([0-9.]*\) ms, detach \([0-9.]*\) ms.*/  attach \1 ms, detach \2 ms/p' $tmp/pause
