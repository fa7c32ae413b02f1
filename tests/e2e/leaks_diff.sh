#!/bin/bash
# leaks_diff: `leaks` and `diff` find what they are for, on leak_steady (one
# steady 400 KiB/s leak among churn, a 4 MiB cache halved at t = 5 s, a
# 24 MiB buffer freed at t = 5 s), sampled at 32 KiB, through a command file:
#   sleep 3s; snapshot a; sleep 9s; diff a; leaks; live by site
# - diff a: leak_steady's stack is "grown", cache_fill's is "shrunk",
#   big_buffer's is "gone";
# - leaks: the first suspect is leak_steady; neither big_buffer (the largest
#   allocation, freed later) nor cache_fill is a suspect;
# - leaktrap exits 0; the target is untraced with identical code after.
. "$(dirname "$0")/lib.sh"

start_target leak_steady
snap "$TPID" before
cat >"$T/cmds" <<'CMDS'
# let the cache fill and the leak start
sleep 3s
snapshot a
sleep 9s
diff a
leaks
live by site
CMDS
start_lt -p "$TPID" --sample-interval 32k -x "$T/cmds"
kill -USR1 "$TPID"
wait_lt 60
[ "$LTRC" = 0 ] || fail "leaktrap exited $LTRC: $(head -5 "$LTERR")"
untraced "$TPID"
cat "$LTOUT"

row() { grep -E "^$1 .*stack [0-9]+: $2 " "$LTOUT" >/dev/null; }
row grown leak_steady || fail "diff a: leak_steady's stack is not marked grown"
row shrunk cache_fill || fail "diff a: cache_fill's stack is not marked shrunk"
row gone big_buffer || fail "diff a: big_buffer's stack is not marked gone"

first=$(grep -E '^ *1\. stack [0-9]+: ' "$LTOUT" | head -1)
case $first in
*": leak_steady "*) log "ok: the first leak suspect is leak_steady" ;;
*) fail "leaks: the first suspect is not leak_steady: '${first:-none}'" ;;
esac
sed -n '/^leak suspects/,/^live by site/p' "$LTOUT" | grep -E '^ *[0-9]+\. .*(big_buffer|cache_fill)' &&
	fail "leaks: big_buffer or cache_fill is a suspect"
grep -q 'old live bytes grow ~' "$LTOUT" || fail "leaks: no reason (growth rate) given"

same_code "$TPID" before
stop_target "$TPID" 0
finish
