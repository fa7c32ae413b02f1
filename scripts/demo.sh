#!/bin/sh
# The README's demo: start a small service that leaks in one place among a
# lot of allocation churn, let leaktrap watch it for a few seconds, and print
# the report. Run through `make demo`, which builds everything first.
set -e
cd "$(dirname "$0")/.."
build/targets/demo_leak &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
sleep 1
echo "$ ./leaktrap report -p $pid --duration 5s --top 3"
./leaktrap report -p "$pid" --duration 5s --top 3
