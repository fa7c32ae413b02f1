#!/bin/bash
# options: the report's output options, on demo_leak (a service that leaks
# 4 KiB at cache_insert on every 4th request, steadily).
#  --format text          the text report names cache_insert; "hooks active"
#                         on stderr
#  -q -o FILE             nothing on stdout or stderr; FILE holds the JSON
#  --top 1                exactly one group, cache_insert's; totals.groups
#                         counts them all
#  --min-age 1h           no group at all
#  --min-age 1500ms       only groups whose oldest allocation is >= 1.5s
#                         old, and cache_insert is among them
# Each session: exit 0, target untouched, code identical at the end, and
# demo_leak exits 0 on SIGTERM.
. "$(dirname "$0")/lib.sh"

start_target demo_leak
snap "$TPID" before

run_lt 60 report -p "$TPID" --every --duration 2s --format text
expect_lt_ok
grep -q 'cache_insert' "$LTOUT" || { fail "--format text: cache_insert is not in the report:"; head -30 "$LTOUT"; }
grep -q 'hooks active' "$LTERR" || fail "--format text: no 'hooks active' on stderr"
python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$LTOUT" 2>/dev/null &&
	fail "--format text printed JSON"
log "text report: $(grep -c '' "$LTOUT") lines"
head -15 "$LTOUT"
untraced "$TPID"

OUT=$T/quiet.json
run_lt 60 report -p "$TPID" -q -o "$OUT" --every --duration 1s --format json
[ "$LTRC" = 0 ] || fail "-q -o: exit $LTRC: $(head -3 "$LTERR")"
[ -s "$LTOUT" ] && fail "-q -o FILE: leaktrap wrote on stdout: $(head -3 "$LTOUT")"
[ -s "$LTERR" ] && fail "-q: leaktrap wrote on stderr: $(head -3 "$LTERR")"
if [ -s "$OUT" ]; then
	LTOUT=$OUT
	check_report "$TPID" --every
	check top "$LTOUT" cache_insert || fail "-o FILE: top group is not cache_insert"
else
	fail "-o FILE: $OUT is empty or missing"
fi
untraced "$TPID"

run_lt 60 report -p "$TPID" --every --duration 2s --top 1 --format json
expect_lt_ok && {
	check_report "$TPID" --every
	n=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(len(r["groups"]), r["totals"]["groups"])' "$LTOUT")
	log "--top 1: groups listed, totals.groups: $n"
	[ "${n%% *}" = 1 ] || fail "--top 1 listed ${n%% *} groups"
	[ "${n##* }" -ge 1 ] || fail "--top 1: totals.groups is ${n##* }"
	check top "$LTOUT" cache_insert || fail "--top 1: the group is not cache_insert"
}
untraced "$TPID"

run_lt 60 report -p "$TPID" --every --duration 1s --min-age 1h --top 0 --format json
expect_lt_ok && {
	check_report "$TPID" --every --all-groups
	n=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["groups"]))' "$LTOUT")
	[ "$n" = 0 ] || fail "--min-age 1h: $n groups, wanted none (nothing is that old)"
}
untraced "$TPID"

run_lt 60 report -p "$TPID" --every --duration 3s --min-age 1500ms --top 0 --format json
expect_lt_ok && {
	check_report "$TPID" --every --all-groups
	python3 - "$LTOUT" <<'PY' || fail "--min-age 1500ms: wrong groups"
import json, sys
r = json.load(open(sys.argv[1]))
bad = [g for g in r["groups"] if g["oldest_age_s"] < 1.5 - 0.01]
for g in bad:
    print("group %d has oldest_age_s %.3f < 1.5" % (g["stack_id"], g["oldest_age_s"]))
names = {f.get("func") for g in r["groups"] for f in g["frames"]}
if "cache_insert" not in names:
    print("cache_insert has no allocation older than 1.5s in a 3s session")
    bad.append(1)
sys.exit(1 if bad else 0)
PY
}
untraced "$TPID"
same_code "$TPID" before
stop_target "$TPID" 0
finish
