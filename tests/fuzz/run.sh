#!/bin/bash
# tests/fuzz/run.sh NAME: runs build/fuzz/NAME (a libFuzzer binary) for a
# bounded number of inputs (FUZZ_RUNS, default 200000) from a copy of its
# seed corpus tests/fuzz/corpus/NAME (the copy grows, the corpus in git does
# not). Exit 0 if nothing crashed; the crashing input is kept in build/fuzz/.
cd "$(dirname "$0")/../.." || exit 99
name=$1
work=$(mktemp -d) || exit 99
trap 'rm -rf "$work"' EXIT
cp tests/fuzz/corpus/"${name#fuzz_}"/* "$work"/ 2>/dev/null
exec build/fuzz/"$name" -runs="${FUZZ_RUNS:-200000}" -max_len=512 -timeout=10 \
	-artifact_prefix=build/fuzz/"$name"- "$work"
