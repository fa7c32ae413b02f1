#!/bin/bash
# every_single: exact live counts with --every on a single-threaded target.
# leak_single leaks 100 x 1000 bytes at leak_a and 50 x 3000 bytes at leak_b
# while churn() mallocs, reallocs and frees 20000 blocks. With --every the
# report must give exactly those counts and bytes per site, at the right
# source lines, and no live group under churn; leaktrap exits 0, the target's
# code is byte-identical after detach and the target exits 0 on SIGTERM.
. "$(dirname "$0")/lib.sh"
every_session leak_single leak_single.c 8
finish
