#!/bin/bash
# every_thread_churn: threads created and joined all the time, --every.
# thread_churn runs batches of 4 short-lived threads from start to exit, so
# leaktrap attaches, samples and detaches while threads come and go. During
# the measured phase 10 threads each leak 5 x 333 bytes at leak_in_thread:
# exactly 50 / 16650 must be reported; thread_work (malloc/free pairs) may
# hold at most one block per running thread. Also: exit 0, code identical,
# target exits 0 on SIGTERM.
. "$(dirname "$0")/lib.sh"
every_session thread_churn thread_churn.c 10
finish
