#!/bin/bash
# inside_allocator: threads blocked inside glibc's allocator while leaktrap
# attaches and while it detaches. arena_lock (see its header) jams its
# arena lock: one thread holds it in malloc_stats (blocked writing to a
# full pipe), one waits for it in malloc, one in free; "ready" comes with
# all three inside the allocator, and leaktrap (--every) attaches then.
# SIGUSR1: the jam clears, the target leaks at leak_between, and jams again
# with the malloc now entered through leaktrap's hook ("jammed"); leaktrap
# is told to stop (SIGINT) while that call is still inside: it must detach,
# warn that its region stays mapped because a thread is inside it, and
# print its report, exact at leak_between. Then the code is byte-identical
# (the region it names the one executable mapping added),
# the target untraced; SIGUSR1 clears the jam, and the call returns through
# the inert stub with a correct block (a trap or an unmapped region would
# kill the target), and the target exits 0 on SIGTERM.
. "$(dirname "$0")/lib.sh"

start_target arena_lock
snap "$TPID" before
start_lt report -p "$TPID" --every --duration "$(dur 120)s" --top 0 --format json
kill -USR1 "$TPID"
wait_line "$TOUT" '^jammed$' "$(dur 20)" "$TPID" || die "arena_lock did not jam again: $(tail -n 3 "$TOUT" "$TERR")"
kill -INT "$LTPID"
wait_lt "$(dur 60)"
cat "$LTERR"
expect_lt_ok && check_report "$TPID" --every
left=$(sed -n -E 's/.*the region at (0x[0-9a-f]+) stays mapped \(inert\): a thread was still inside it$/\1/p' "$LTERR")
[ -n "$left" ] || fail "leaktrap did not say that its region stays mapped with a thread inside"
untraced "$TPID"
same_code "$TPID" before "${left:-}"
kill -USR1 "$TPID"
wait_line "$TOUT" '^done$' "$(dur 30)" "$TPID" || die "arena_lock did not finish: $(tail -n 3 "$TOUT" "$TERR")"
grep '^FAIL' "$TOUT" && fail "arena_lock reports failures"
[ "$LTRC" = 0 ] && check_sites "$TOUT" --src arena_lock.c
stop_target "$TPID" 0
finish
