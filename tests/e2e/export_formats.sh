#!/bin/bash
# export_formats: `report --format folded` and `--format pprof`, written with
# -o FILE, on leak_threads (leak_big 200 x 64 KiB, leak_mid 300 x 4 KiB,
# leak_small 1000 x 64 B, from the leaker thread, while 4 threads churn),
# each in its own --every session, beside a --format json session.
#  folded  every line is "root;...;leaf N" (^[^ ]+ [0-9]+$); frames are root
#          first (leaker before the site, the site last); the biggest line
#          ends in leak_big; per site the lines sum to its true bytes.
#  pprof   `go tool pprof -top -sample_index=inuse_space` exits 0 and its top
#          function is the JSON report's top site (leak_big), with exactly
#          its true bytes; by inuse_objects the top is leak_small (1000
#          objects); every sample has an age label in nanoseconds (-raw),
#          which -traces shows for leak_big.
# Each session: exit 0, nothing on stdout, code identical after detach, the
# target exits 0 on SIGTERM.
. "$(dirname "$0")/lib.sh"

DUR=$(dur 2)

command -v go >/dev/null || harness "go is missing: scripts/deps.sh installs golang-go"
# go wants a home and a build cache even for `go tool`; keep both in $T
export HOME=$T/home GOCACHE=$T/gocache GOFLAGS= GOTOOLCHAIN=local
mkdir -p "$HOME"

# session FORMAT FILE: one --every session writing FORMAT to FILE, with the
# usual checks around it; leaves the target's truth in $TOUT.
session() {
	local fmt=$1 file=$2
	start_target leak_threads
	snap "$TPID" before
	start_lt report -p "$TPID" --every --duration "${DUR}s" --top 0 --format "$fmt" -o "$file"
	go_target "$DUR"
	alive "$LTPID" || fail "$fmt: leaktrap ended before the target finished its work"
	wait_lt 60
	took_about "$DUR"
	[ "$LTRC" = 0 ] || { fail "$fmt: leaktrap exited with status $LTRC"; tail -20 "$LTERR"; }
	[ -s "$LTOUT" ] && fail "$fmt -o FILE: leaktrap wrote on stdout: $(head -c 200 "$LTOUT")"
	[ -s "$file" ] || fail "$fmt: $file is empty or missing"
	untraced "$TPID"
	same_code "$TPID" before
	stop_target
}

# ---- json: the reference for the top site
session json "$T/report.json"
LTOUT=$T/report.json
check top "$LTOUT" leak_big "$TOUT" || fail "json: the top group is not leak_big"
JSON_TOP=$(python3 -c 'import json, sys
g = json.load(open(sys.argv[1]))["groups"]
print(g[0]["frames"][0]["func"] if g and g[0]["frames"] else "")' "$LTOUT")
log "json: top site $JSON_TOP"

# ---- folded
session folded "$T/out.folded"
head -5 "$T/out.folded"
python3 "$ROOT/tests/e2e/folded_check.py" "$T/out.folded" "$TOUT" --every --caller leaker ||
	fail "folded: see folded_check above"
BIG=$(sort -t' ' -k2,2nr "$T/out.folded" | head -1)
case ${BIG% *} in
*";$JSON_TOP") log "folded: the biggest line ends in $JSON_TOP, as in the JSON report" ;;
*) fail "folded: the biggest line is '$BIG', not one ending in $JSON_TOP" ;;
esac

# ---- pprof
session pprof "$T/out.pb.gz"
TRUE_BIG=$(awk '$1 == "site" && $2 == "leak_big" { print $6 }' "$TOUT")
pprof() { timeout 120 go tool pprof "$@" "$T/out.pb.gz"; }

if pprof -top -sample_index=inuse_space -unit=B >"$T/top.txt" 2>"$T/top.err"; then
	head -12 "$T/top.txt"
	# the first row under "flat  flat%  sum%  cum  cum%": flat, then the name
	read -r flat name < <(awk '/flat%/ { h = 1; next }
		h { f = $1; $1 = $2 = $3 = $4 = $5 = ""; sub(/^ +/, ""); print f, $0; exit }' "$T/top.txt")
	[ "$name" = "$JSON_TOP" ] ||
		fail "pprof -top inuse_space: the top function is '$name', the JSON report's is '$JSON_TOP'"
	[ "$flat" = "${TRUE_BIG}B" ] ||
		fail "pprof -top inuse_space: $name holds $flat, the target says ${TRUE_BIG}B"
	log "pprof: top by inuse_space is $name with $flat"
else
	fail "go tool pprof -top failed: $(head -5 "$T/top.err")"
fi

if pprof -top -sample_index=inuse_objects >"$T/objects.txt" 2>"$T/objects.err"; then
	name=$(awk '/flat%/ { h = 1; next } h { print $6; exit }' "$T/objects.txt")
	[ "$name" = leak_small ] || fail "pprof -top inuse_objects: the top function is '$name', not leak_small"
else
	fail "go tool pprof -top -sample_index=inuse_objects failed: $(head -5 "$T/objects.err")"
fi

if pprof -raw >"$T/raw.txt" 2>"$T/raw.err"; then
	# sample lines ("N M: ids") each followed by their labels
	read -r nsamples nages < <(awk '/^Samples:/ { s = 1; next } /^Locations/ { s = 0 }
		s && /^ +[0-9]+ +[0-9]+: / { n++ }
		s && /age:\[[0-9]+ nanoseconds\]/ { a++ } END { print n + 0, a + 0 }' "$T/raw.txt")
	if [ "$nsamples" -gt 0 ] && [ "$nsamples" = "$nages" ]; then
		log "pprof -raw: $nsamples samples, each with an age label in nanoseconds"
	else
		fail "pprof -raw: $nsamples samples but $nages age labels in nanoseconds"
		sed -n '/^Samples:/,/^Locations/p' "$T/raw.txt" | head -20
	fi
else
	fail "go tool pprof -raw failed: $(head -5 "$T/raw.err")"
fi

if pprof -traces >"$T/traces.txt" 2>"$T/traces.err"; then
	# a trace is a block between dashed lines: labels, then the frames leaf first
	awk '/^-+\+-+$/ { age = 0; first = 1; next }
		/^ +age: / { age = 1; next }
		first && NF >= 2 && $0 !~ /:/ { if ($2 == "leak_big" && age) ok = 1; first = 0 }
		END { exit !ok }' "$T/traces.txt" ||
		fail "pprof -traces: no leak_big trace with an age label"
else
	fail "go tool pprof -traces failed: $(head -5 "$T/traces.err")"
fi
finish
