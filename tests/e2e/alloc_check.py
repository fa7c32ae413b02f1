#!/usr/bin/env python3
"""alloc_check.py: checks for the allocator tests (tests/e2e/alloc_*.sh),
beside report_check.py. Not a test by itself.

  alloc_check.py counts REPORT TRUTH
      TRUTH lines "count NAME count C": the groups whose innermost named
      frame is NAME (a function of a "site", "bound" or "count" line) hold
      exactly C live allocations, whatever their sizes (blocks whose size
      only the C library knows, such as fopen's).
  alloc_check.py frame0 REPORT FUNC COUNT [BYTES]
      The groups whose first frame (the allocator's direct caller) is the
      function FUNC hold exactly COUNT allocations (and BYTES bytes): for a
      C library without unwind tables (musl), whose stacks end there.
  alloc_check.py truth-without TRUTH NAME...
      Prints TRUTH without the lines of the named sites.
  alloc_check.py hooks REPORT FUNC HOW [FUNC HOW ...]
      Each FUNC is in the report's hooks list with that "how".
Exit status: 0 ok, 1 check failed, 99 bad usage or unreadable input.
"""
import json
import sys


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        print("alloc_check: cannot read %s: %s" % (path, e))
        sys.exit(99)


def norm(func):
    if not isinstance(func, str):
        return ""
    return func.split("(")[0].strip()


def truth_lines(path):
    try:
        return open(path).read().splitlines()
    except OSError as e:
        print("alloc_check: cannot read %s: %s" % (path, e))
        sys.exit(99)


def main(argv):
    if len(argv) < 3:
        print(__doc__)
        sys.exit(99)
    cmd, args = argv[1], argv[2:]
    bad = []
    if cmd == "counts":
        rep = load(args[0])
        names, want = set(), {}
        for ln in truth_lines(args[1]):
            w = ln.split()
            if len(w) >= 4 and w[0] in ("site", "bound", "count") and w[2] == "count":
                names.add(w[1])
                if w[0] == "count":
                    want[w[1]] = int(w[3])
        if not want:
            print("alloc_check: no count lines in %s: nothing to check" % args[1])
        got = {n: 0.0 for n in want}
        for g in rep.get("groups") or []:
            for fr in g.get("frames") or []:
                f = norm(fr.get("func"))
                if f in names:
                    if f in got:
                        got[f] += g["count"]
                    break
        for n, c in sorted(want.items()):
            ok = abs(got[n] - c) < 1e-6
            print("count %-20s want %6d got %8g  %s" % (n, c, got[n], "ok" if ok else "WRONG"))
            if not ok:
                bad.append("%s: %g live allocations, wanted exactly %d" % (n, got[n], c))
    elif cmd == "frame0":
        rep = load(args[0])
        func, count = args[1], int(args[2])
        nbytes = int(args[3]) if len(args) > 3 else None
        c = b = 0.0
        for g in rep.get("groups") or []:
            frames = g.get("frames") or []
            if frames and norm(frames[0].get("func")) == func:
                c += g["count"]
                b += g["bytes"]
        ok = abs(c - count) < 1e-6 and (nbytes is None or abs(b - nbytes) < 1e-6)
        print("frame0 %-14s want count %6d bytes %s  got count %8g bytes %10g  %s" %
              (func, count, nbytes, c, b, "ok" if ok else "WRONG"))
        if not ok:
            bad.append("allocations called from %s: %g / %g bytes, wanted %d / %s" %
                       (func, c, b, count, nbytes))
    elif cmd == "truth-without":
        drop = set(args[1:])
        for ln in truth_lines(args[0]):
            w = ln.split()
            if len(w) >= 2 and w[0] in ("site", "bound") and w[1] in drop:
                continue
            print(ln)
    elif cmd == "hooks":
        rep = load(args[0])
        hooks = {h.get("func"): h for h in rep.get("hooks") or []}
        for i in range(1, len(args) - 1, 2):
            func, how = args[i], args[i + 1]
            h = hooks.get(func)
            if h is None or h.get("how") != how:
                bad.append("hook %s: %r, wanted how %r" % (func, h, how))
            else:
                print("hook %-16s %s" % (func, how))
    else:
        print("alloc_check: unknown command %s" % cmd)
        sys.exit(99)
    for p in bad:
        print("alloc_check: " + p)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main(sys.argv)
