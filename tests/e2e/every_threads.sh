#!/bin/bash
# every_threads: exact live counts with --every on a multi-threaded target.
# leak_threads runs 4 churn_worker threads from start to exit (malloc,
# realloc, cross-thread free) while one more thread leaks after SIGUSR1:
# leak_big 200 x 64 KiB, leak_mid 300 x 4 KiB, leak_small 1000 x 64 B.
# The report must give those exactly, at the right lines; churn_worker may
# hold only what it can hold at one moment (4*(8+1)+16 blocks <= 1 KiB).
# Also: exit 0, code identical after detach, target exits 0 on SIGTERM.
. "$(dirname "$0")/lib.sh"
every_session leak_threads leak_threads.c 10
finish
