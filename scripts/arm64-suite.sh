#!/bin/bash
# arm64-suite.sh: runs leaktrap's test suite on aarch64, inside an arm64
# kernel booted in qemu-system-aarch64 (scripts/arm64-vm.sh).
#
# Usage: scripts/arm64-suite.sh CPU [PATTERN...]
#   CPU is a qemu CPU model: cortex-a57 (ARMv8.0), or max (with pointer
#   authentication and BTI, for which the test targets are built with
#   -mbranch-protection=standard).
# The sources are copied to build/arm64/tree-CPU and cross-built there for
# aarch64 (make cross-tests), and that tree runs tests/run.sh PATTERN... in
# the VM (with LT_ARM64_SUITE set: see tests/run.sh for what it selects).
# Every line the suite prints comes out with test names prefixed by
# "arm64-CPU/"; the last line is the suite's own "N passed, N failed, N
# skipped". Exit status: the suite's, or 2 when it could not be run.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
ROOT=$(pwd)
cpu=${1:?usage: scripts/arm64-suite.sh CPU [PATTERN...]}
shift
tree=$ROOT/build/arm64/tree-$cpu

# die MSG: one line on stderr, exit 2.
die() { echo "arm64-suite: $*" >&2; exit 2; }

# sync_tree: copies the sources (not the host's build) into $tree, keeping
# what was built there before so that make rebuilds only what changed.
sync_tree() {
	mkdir -p "$tree" || die "cannot create $tree"
	tar -C "$ROOT" --exclude=./build --exclude=./.git --exclude=./leaktrap -cf - . |
		tar -C "$tree" -xmf - || die "cannot copy the sources to $tree"
}

# cross_build: builds leaktrap, the targets and the unit tests for aarch64.
cross_build() {
	local tflags="-O2 -g -fno-omit-frame-pointer -fno-optimize-sibling-calls -pthread"
	[ "$cpu" = max ] && tflags="$tflags -mbranch-protection=standard"
	# libjemalloc-dev:arm64 lives in a sysroot of its own (scripts/arm64-vm.sh)
	tflags="$tflags -L$ROOT/build/arm64/sysroot/usr/lib/aarch64-linux-gnu"
	make -C "$tree" -j"$(nproc)" -s ARCH=aarch64 CC=aarch64-linux-gnu-gcc \
		CXX=aarch64-linux-gnu-g++ TFLAGS="$tflags" \
		MUSLCC="aarch64-linux-gnu-gcc -specs /usr/lib/aarch64-linux-musl/musl-gcc.specs" cross-tests >"$tree.build.log" 2>&1 ||
		{ tail -20 "$tree.build.log" >&2; die "cross build failed (log: ${tree#"$ROOT"/}.build.log)"; }
}

# What the VM runs by default: every unit test, and the end-to-end tests of
# what differs on aarch64 (issue 5): leaks at their sites, exact counts
# with --every through every hook kind and allocator, code identical after
# detach, fork and exec, threads, --, report formats, with the agent
# engine; on the cortex-a57 also signals, sampling and the trap engine's
# stops (on max, what pointer authentication changes: hooks, stubs and
# stacks, all in the first list). Under emulation a recorded event costs
# some twenty times what it does on the host: the targets' churn loops run
# 5% of their rounds (LT_TARGET_CHURN) and their pauses for leaktrap last
# ten times longer (LT_TARGET_SLOW); the sessions that must outlast a code
# snapshot four times (LT_SLOW).
VM_TESTS=(unit/ =e2e/agent_stacks =e2e/every_single =e2e/every_variants =e2e/every_cxx
	=e2e/alloc_glibc =e2e/alloc_musl =e2e/alloc_dlopen =e2e/code_identical =e2e/segv_handler
	=e2e/forker =e2e/agent_exec =e2e/every_threads =e2e/export_formats =e2e/launch_program
	=e2e/alloc_cxx_tcmalloc =e2e/signal_parked =e2e/inside_allocator =e2e/unwind_rules)
[ "$cpu" = max ] || VM_TESTS+=(=e2e/sampling =e2e/signals =e2e/every_single@trap
	=e2e/code_identical@trap =e2e/signals@trap =e2e/bad_input_yama =e2e/bad_input
	=e2e/inside_allocator@trap)
[ $# -gt 0 ] || set -- "${VM_TESTS[@]}"

scripts/arm64-vm.sh setup || die "scripts/arm64-vm.sh setup failed"
sync_tree
cross_build
scripts/arm64-vm.sh run --cpu "$cpu" --timeout "${ARM64_TIMEOUT:-1200}" "$tree" -- \
	env LT_ARM64_SUITE=1 LT_TARGET_CHURN=5 LT_TARGET_SLOW=10 LT_SLOW=4 tests/run.sh "$@" |
	sed -u -E "s#^(PASS|FAIL|SKIP) #\1 arm64-$cpu/#"
exit "${PIPESTATUS[0]}"
