#!/usr/bin/env python3
"""report_check.py: the e2e tests' checker for leaktrap reports and for the
target's code bytes. Used by tests/e2e/lib.sh; not a test by itself.

  report_check.py schema REPORT [--pid N] [--every] [--interval BYTES]
                         [--all-groups] [--duration S] [--allocator SUBSTR]
      REPORT is one JSON document of the schema in the README. Checks types,
      sorting, totals, the hooks list; --every: exact figures (estimated is
      false, count == samples, integral counts and bytes, nothing dropped).
  report_check.py sites REPORT TRUTH [--no-lines] [--src FILE.c]
      TRUTH is the target's stdout: "site NAME count C bytes B [line L]" and
      "bound NAME count C bytes B" lines. Each group goes to the innermost
      frame whose function is one of the NAMEs; per NAME the summed count and
      bytes must equal (site) or not exceed (bound) the truth. With a line,
      that frame's "line" must be L (and its "file" end in --src).
  report_check.py top REPORT NAME [TRUTH]
      The group with the most bytes belongs to NAME.
  report_check.py estimate REPORT TRUTH NAME LO HI
      The estimated bytes of NAME (groups attributed as for "sites") divided
      by its true bytes must lie in [LO, HI].
  report_check.py ages REPORT TRUTH LO HI
      Every group that belongs to a "site" with a non-zero count has an
      oldest_age_s in [LO, HI] seconds.
  report_check.py get REPORT KEY
      Prints the top-level KEY as JSON ("null", "\"exited with status 0\"").
  report_check.py summary REPORT
      A short human-readable table of the groups (for logs).
  report_check.py snapshot PID DIR
      Saves the list of executable mappings of PID and their bytes (read
      through /proc/PID/mem) into DIR.
  report_check.py compare DIR_BEFORE DIR_AFTER [LEFT_ADDR]
      Fails, naming every differing byte range and every new or missing
      executable mapping, unless the two snapshots are identical; with
      LEFT_ADDR (hex), an anonymous executable mapping starting there (the
      region leaktrap said it left mapped) is the one allowed addition.
Exit status: 0 ok, 1 check failed, 99 bad usage or unreadable input.
"""
import json
import math
import os
import sys

problems = []


def problem(msg):
    problems.append(msg)


def done():
    for p in problems:
        print("report_check: " + p)
    sys.exit(1 if problems else 0)


def harness_error(msg):
    print("report_check: harness error: " + msg)
    sys.exit(99)


def load(path):
    try:
        with open(path) as f:
            text = f.read()
    except OSError as e:
        harness_error("cannot read %s: %s" % (path, e))
    if not text.strip():
        print("report_check: %s is empty: no report was printed" % path)
        sys.exit(1)
    try:
        return json.loads(text)
    except ValueError as e:
        print("report_check: %s is not one JSON document: %s" % (path, e))
        print("report_check: it starts with: %r" % text[:300])
        sys.exit(1)


def norm(func):
    """A frame's function name without parameters (demangled C++)."""
    if not isinstance(func, str):
        return ""
    f = func.strip()
    if "(" in f:
        f = f[: f.index("(")]
    return f.strip()


def is_num(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def is_int(x):
    return isinstance(x, int) and not isinstance(x, bool)


def is_hex(x):
    if not isinstance(x, str) or not x.startswith("0x"):
        return False
    try:
        int(x, 16)
        return True
    except ValueError:
        return False


def frame_str(fr):
    s = "%s" % (fr.get("func") or "?")
    if fr.get("offset") is not None:
        s += "+%s" % fr.get("offset")
    if fr.get("file"):
        s += " (%s:%s)" % (os.path.basename(str(fr.get("file"))), fr.get("line"))
    elif fr.get("module"):
        s += " [%s]" % os.path.basename(str(fr.get("module")))
    if fr.get("inlined"):
        s += " [inlined]"
    return s


def group_str(g):
    frames = g.get("frames") or []
    return "id %s bytes %s count %s samples %s: %s" % (
        g.get("stack_id"), g.get("bytes"), g.get("count"), g.get("samples"),
        " <- ".join(frame_str(f) for f in frames[:6]) + (" ..." if len(frames) > 6 else ""))


# ---------------------------------------------------------------- schema

def check_schema(rep, pid=None, every=False, interval=None, all_groups=False,
                 duration=None, allocator="libc.so"):
    if not isinstance(rep, dict):
        problem("report is not a JSON object")
        return
    want = {"version": is_int, "pid": is_int, "comm": lambda x: isinstance(x, str),
            "engine": lambda x: isinstance(x, str), "sample_interval": is_int,
            "estimated": lambda x: isinstance(x, bool), "duration_s": is_num,
            "target_end": lambda x: x is None or isinstance(x, str),
            "allocator": lambda x: isinstance(x, str),
            "hooks": lambda x: isinstance(x, list), "query": lambda x: isinstance(x, dict),
            "totals": lambda x: isinstance(x, dict), "groups": lambda x: isinstance(x, list)}
    for k, ok in want.items():
        if k not in rep:
            problem("top-level key %r missing" % k)
        elif not ok(rep[k]):
            problem("top-level key %r has a wrong type: %r" % (k, rep[k]))
    if problems:
        return
    if rep["version"] != 1:
        problem("version is %r, wanted 1" % rep["version"])
    if pid is not None and rep["pid"] != pid:
        problem("pid is %r, wanted %d" % (rep["pid"], pid))
    want_engine = os.environ.get("LEAKTRAP_ENGINE") or "agent"
    if rep["engine"] != want_engine:
        problem("engine is %r, wanted %r" % (rep["engine"], want_engine))
    if allocator not in rep["allocator"]:
        problem("allocator is %r, wanted one containing %r" % (rep["allocator"], allocator))
    if duration is not None and not (0 <= rep["duration_s"] <= duration + 5):
        problem("duration_s is %r, asked for %s" % (rep["duration_s"], duration))
    if every:
        if rep["estimated"] is not False:
            problem("--every report says estimated: %r, wanted false" % rep["estimated"])
    else:
        if rep["estimated"] is not True:
            problem("sampled report says estimated: %r, wanted true" % rep["estimated"])
        if interval is not None and rep["sample_interval"] != interval:
            problem("sample_interval is %r, wanted %d" % (rep["sample_interval"], interval))

    # hooks
    hooked = {}
    for h in rep["hooks"]:
        if not isinstance(h, dict) or not {"func", "addr", "how", "why"} <= set(h):
            problem("hooks entry lacks func/addr/how/why: %r" % (h,))
            continue
        hooked[h["func"]] = h
        if h["how"] not in ("not hooked",) and not is_hex(h["addr"]):
            problem("hook %r has addr %r, wanted a 0x hex string" % (h["func"], h["addr"]))
    for f in ("malloc", "free", "calloc", "realloc", "posix_memalign", "memalign"):
        h = hooked.get(f)
        if h is None:
            problem("hooks has no entry for %s" % f)
        elif not isinstance(h["how"], str) or h["how"] == "not hooked":
            problem("%s is not hooked: how %r why %r" % (f, h["how"], h["why"]))

    # totals
    t = rep["totals"]
    for k, ok in (("bytes", is_num), ("count", is_num), ("samples", is_int),
                  ("frees_seen", is_int), ("dropped", is_int), ("frees_lost", is_int),
                  ("groups", is_int)):
        if k not in t:
            problem("totals.%s missing" % k)
        elif not ok(t[k]):
            problem("totals.%s has a wrong type: %r" % (k, t[k]))
    if problems:
        return
    if every and t["dropped"] != 0:
        problem("--every report dropped %d samples: figures are not exact" % t["dropped"])
    if every and t["frees_lost"] != 0:
        problem("--every report lost %d frees: figures are not exact" % t["frees_lost"])

    # groups
    prev = None
    gkeys = {"stack_id": is_int, "bytes": is_num, "count": is_num, "samples": is_int,
             "oldest_age_s": is_num, "frames": lambda x: isinstance(x, list)}
    fkeys = {"addr": is_hex, "func": lambda x: x is None or isinstance(x, str),
             "offset": lambda x: x is None or is_int(x),
             "module": lambda x: x is None or isinstance(x, str),
             "module_offset": lambda x: x is None or is_hex(x),
             "file": lambda x: x is None or isinstance(x, str),
             "line": lambda x: x is None or is_int(x),
             "inlined": lambda x: isinstance(x, bool)}
    ids = set()
    sum_bytes = sum_count = 0.0
    for i, g in enumerate(rep["groups"]):
        bad = False
        for k, ok in gkeys.items():
            if k not in g:
                problem("groups[%d].%s missing" % (i, k))
                bad = True
            elif not ok(g[k]):
                problem("groups[%d].%s has a wrong type: %r" % (i, k, g[k]))
                bad = True
        if bad:
            continue
        if g["stack_id"] in ids:
            problem("groups[%d]: stack_id %d appears twice" % (i, g["stack_id"]))
        ids.add(g["stack_id"])
        if g["bytes"] < 0 or g["count"] < 0 or g["samples"] < 0:
            problem("groups[%d] has a negative figure: %s" % (i, group_str(g)))
        if g["samples"] == 0:
            problem("groups[%d] has 0 samples behind it: %s" % (i, group_str(g)))
        if prev is not None and g["bytes"] > prev + 1e-6:
            problem("groups are not sorted by bytes: groups[%d] has %r after %r" % (i, g["bytes"], prev))
        prev = g["bytes"]
        if g["oldest_age_s"] < 0 or g["oldest_age_s"] > rep["duration_s"] + 2:
            problem("groups[%d].oldest_age_s is %r, but the session lasted %r s" %
                    (i, g["oldest_age_s"], rep["duration_s"]))
        if not g["frames"]:
            problem("groups[%d] has no frames" % i)
        for j, fr in enumerate(g["frames"]):
            for k, ok in fkeys.items():
                if k not in fr:
                    problem("groups[%d].frames[%d].%s missing" % (i, j, k))
                elif not ok(fr[k]):
                    problem("groups[%d].frames[%d].%s has a wrong type: %r" % (i, j, k, fr[k]))
        if every:
            if g["count"] != round(g["count"]) or g["bytes"] != round(g["bytes"]):
                problem("--every group is not integral: %s" % group_str(g))
            if round(g["count"]) != g["samples"]:
                problem("--every group has count %r but %d samples" % (g["count"], g["samples"]))
        sum_bytes += g["bytes"]
        sum_count += g["count"]
    n = len(rep["groups"])
    if t["groups"] < n:
        problem("totals.groups is %d but the report lists %d groups" % (t["groups"], n))
    if all_groups:
        if t["groups"] != n:
            problem("--top 0: totals.groups is %d but %d groups are listed" % (t["groups"], n))
        if abs(t["bytes"] - sum_bytes) > 1e-5 * max(1.0, sum_bytes) + 1e-3:
            problem("--top 0: totals.bytes %r != sum of group bytes %r" % (t["bytes"], sum_bytes))
        if abs(t["count"] - sum_count) > 1e-5 * max(1.0, sum_count) + 1e-3:
            problem("--top 0: totals.count %r != sum of group counts %r" % (t["count"], sum_count))
    elif t["bytes"] + 1e-3 < sum_bytes * (1 - 1e-9):
        problem("totals.bytes %r is less than the listed groups' %r" % (t["bytes"], sum_bytes))


# ---------------------------------------------------------------- truth

def read_truth(path):
    sites = {}
    try:
        lines = open(path).read().splitlines()
    except OSError as e:
        harness_error("cannot read truth %s: %s" % (path, e))
    callers = {}
    for ln in lines:
        w = ln.split()
        if len(w) >= 6 and w[0] in ("site", "bound") and w[2] == "count" and w[4] == "bytes":
            line = int(w[7]) if len(w) >= 8 and w[6] == "line" else 0
            sites[w[1]] = {"kind": w[0], "count": int(w[3]), "bytes": int(w[5]), "line": line}
        elif len(w) == 3 and w[0] == "caller":
            callers[w[1]] = w[2]    # "caller SITE FUNC": FUNC called SITE
    if not sites:
        harness_error("no site/bound lines in %s" % path)
    for name, func in callers.items():
        if name not in sites:
            harness_error("caller line for %s, which has no site line" % name)
        sites[name]["caller"] = func
    return sites


def attribute(g, names):
    """(name, frame) of the innermost frame whose function is in names."""
    for fr in g.get("frames") or []:
        f = norm(fr.get("func"))
        if f in names:
            return f, fr
    return None, None


def check_sites(rep, truth, lines=True, src=None):
    got = {n: {"count": 0.0, "bytes": 0.0, "groups": []} for n in truth}
    other = []
    for g in rep.get("groups", []):
        name, fr = attribute(g, truth)
        if name is None:
            other.append(g)
            continue
        got[name]["count"] += g["count"]
        got[name]["bytes"] += g["bytes"]
        got[name]["groups"].append(g)
        t = truth[name]
        if t.get("caller"):
            # the unwind past the allocating function: on aarch64 with
            # pointer authentication its saved return address is signed
            frames = g.get("frames") or []
            k = frames.index(fr) + 1
            up = norm(frames[k].get("func")) if k < len(frames) else None
            if up != t["caller"]:
                problem("%s: the frame above it is %s, wanted %s (its caller): %s" %
                        (name, frame_str(frames[k]) if k < len(frames) else "missing",
                         t["caller"], group_str(g)))
        if lines and t["line"] and not fr.get("inlined"):
            if fr.get("line") != t["line"]:
                problem("%s: frame %s has line %r, wanted %d (the call's line)" %
                        (name, frame_str(fr), fr.get("line"), t["line"]))
            if src and not str(fr.get("file") or "").endswith(src):
                problem("%s: frame %s has file %r, wanted .../%s" %
                        (name, frame_str(fr), fr.get("file"), src))
    for name, t in sorted(truth.items()):
        c, b = got[name]["count"], got[name]["bytes"]
        if t["kind"] == "site":
            ok = abs(c - t["count"]) < 1e-6 and abs(b - t["bytes"]) < 1e-6
            verdict = "ok" if ok else "WRONG"
            print("site %-22s want count %6d bytes %9d  got count %8g bytes %10g  %s" %
                  (name, t["count"], t["bytes"], c, b, verdict))
            if not ok:
                problem("%s: %g live allocations / %g bytes, wanted exactly %d / %d" %
                        (name, c, b, t["count"], t["bytes"]))
                for g in got[name]["groups"]:
                    print("    " + group_str(g))
        else:
            ok = c <= t["count"] + 1e-6 and b <= t["bytes"] + 1e-6
            print("bound %-21s max  count %6d bytes %9d  got count %8g bytes %10g  %s" %
                  (name, t["count"], t["bytes"], c, b, "ok" if ok else "WRONG"))
            if not ok:
                problem("%s: %g live allocations / %g bytes, but at most %d / %d can be live" %
                        (name, c, b, t["count"], t["bytes"]))
                for g in got[name]["groups"][:10]:
                    print("    " + group_str(g))
    if other:
        print("%d groups outside the named sites (allowed: libc/ld.so internals):" % len(other))
        for g in other[:15]:
            print("    " + group_str(g))


def check_top(rep, name, truth_path=None):
    groups = rep.get("groups") or []
    if not groups:
        problem("the report has no groups; wanted %s on top" % name)
        return
    names = set(read_truth(truth_path)) if truth_path else {name}
    names.add(name)
    got, _ = attribute(groups[0], names)
    if got != name:
        problem("top group is not %s: %s" % (name, group_str(groups[0])))
    for g in groups[:5]:
        print("    " + group_str(g))


# ---------------------------------------------------------------- code snapshots

def exec_maps(pid):
    out = []
    with open("/proc/%d/maps" % pid) as f:
        for ln in f:
            w = ln.split(None, 5)
            start, end = (int(x, 16) for x in w[0].split("-"))
            perms = w[1]
            path = w[5].strip() if len(w) > 5 else ""
            if "x" in perms and path != "[vsyscall]":
                out.append((start, end, perms, int(w[2], 16), path))
    return out


def snapshot(pid, d):
    os.makedirs(d, exist_ok=True)
    maps = exec_maps(pid)
    lines = []
    fd = os.open("/proc/%d/mem" % pid, os.O_RDONLY)
    try:
        for i, (s, e, perms, off, path) in enumerate(maps):
            try:
                data = os.pread(fd, e - s, s)
            except OSError as ex:
                data = b""
                print("report_check: cannot read %x-%x %s: %s" % (s, e, path, ex))
            with open(os.path.join(d, "%x.bin" % s), "wb") as f:
                f.write(data)
            lines.append("%x-%x %s %x %s" % (s, e, perms, off, path))
    finally:
        os.close(fd)
    with open(os.path.join(d, "maps"), "w") as f:
        f.write("\n".join(lines) + "\n")


def compare(d1, d2, left=None):
    m1 = open(os.path.join(d1, "maps")).read().splitlines()
    m2 = open(os.path.join(d2, "maps")).read().splitlines()
    for ln in m1:
        if ln not in m2:
            problem("executable mapping gone or changed in the later snapshot: %s" % ln)
    for ln in m2:
        w = ln.split(" ")
        if left is not None and int(w[0].split("-")[0], 16) == left and len(w) > 3 and not w[3]:
            print("report_check: the region leaktrap left is at %s" % ln)
            continue
        if ln not in m1:
            problem("new executable mapping in the later snapshot: %s" % ln)
    for ln in m1:
        if ln not in m2:
            continue
        start = ln.split("-")[0]
        rng, perms, off, path = ln.split(" ", 3)
        a = open(os.path.join(d1, start + ".bin"), "rb").read()
        b = open(os.path.join(d2, start + ".bin"), "rb").read()
        if a == b:
            continue
        base = int(start, 16)
        n = min(len(a), len(b))
        diffs = []
        i = 0
        while i < n and len(diffs) < 10:
            if a[i] != b[i]:
                j = i
                while j < n and a[j] != b[j]:
                    j += 1
                diffs.append((i, j))
                i = j
            else:
                i += 1
        for i, j in diffs:
            problem("code differs from the first snapshot in %s at 0x%x (file offset 0x%x), %d bytes: "
                    "before %s, after %s" % (path or "[anon]", base + i, int(off, 16) + i, j - i,
                                             a[i:min(j, i + 16)].hex(" "), b[i:min(j, i + 16)].hex(" ")))
        if len(a) != len(b):
            problem("code mapping %s read %d bytes before, %d after" % (path, len(a), len(b)))


# ---------------------------------------------------------------- main

def main(argv):
    if len(argv) < 2:
        harness_error("usage: see the top of %s" % argv[0])
    cmd, args = argv[1], argv[2:]
    if cmd == "schema":
        rep = load(args[0])
        kw = {}
        rest = args[1:]
        i = 0
        while i < len(rest):
            a = rest[i]
            if a == "--pid":
                kw["pid"] = int(rest[i + 1]); i += 1
            elif a == "--every":
                kw["every"] = True
            elif a == "--interval":
                kw["interval"] = int(rest[i + 1]); i += 1
            elif a == "--all-groups":
                kw["all_groups"] = True
            elif a == "--duration":
                kw["duration"] = float(rest[i + 1]); i += 1
            elif a == "--allocator":
                kw["allocator"] = rest[i + 1]; i += 1
            else:
                harness_error("schema: unknown option %s" % a)
            i += 1
        check_schema(rep, **kw)
    elif cmd == "sites":
        rep = load(args[0])
        truth = read_truth(args[1])
        lines = "--no-lines" not in args
        src = args[args.index("--src") + 1] if "--src" in args else None
        check_sites(rep, truth, lines, src)
    elif cmd == "top":
        rep = load(args[0])
        check_top(rep, args[1], args[2] if len(args) > 2 else None)
    elif cmd == "estimate":
        rep = load(args[0])
        truth = read_truth(args[1])
        name, lo, hi = args[2], float(args[3]), float(args[4])
        if name not in truth:
            harness_error("%s has no truth line" % name)
        est = 0.0
        for g in rep.get("groups") or []:
            if attribute(g, truth)[0] == name:
                est += g["bytes"]
        ratio = est / truth[name]["bytes"]
        print("%s: estimated %.0f bytes, true %d, ratio %.3f (allowed %g..%g)" %
              (name, est, truth[name]["bytes"], ratio, lo, hi))
        if not lo <= ratio <= hi:
            problem("%s: estimated bytes %.0f are %.3f x the true %d, outside %g..%g" %
                    (name, est, ratio, truth[name]["bytes"], lo, hi))
    elif cmd == "ages":
        rep = load(args[0])
        truth = read_truth(args[1])
        lo, hi = float(args[2]), float(args[3])
        for g in rep.get("groups") or []:
            name, _ = attribute(g, truth)
            if name is None or truth[name]["kind"] != "site" or not truth[name]["count"]:
                continue
            age = g.get("oldest_age_s")
            if not is_num(age) or not lo <= age <= hi:
                problem("%s: oldest_age_s is %r, but its blocks were allocated %.2f..%.2f s "
                        "before the report" % (name, age, lo, hi))
            else:
                print("%s: oldest_age_s %.3f within %.2f..%.2f" % (name, age, lo, hi))
    elif cmd == "get":
        rep = load(args[0])
        if not isinstance(rep, dict) or args[1] not in rep:
            problem("report has no key %r" % args[1])
        else:
            print(json.dumps(rep[args[1]]))
    elif cmd == "summary":
        rep = load(args[0])
        t = rep.get("totals", {}) if isinstance(rep, dict) else {}
        print("report: pid %s target_end %r duration_s %s totals %s" %
              (rep.get("pid"), rep.get("target_end"), rep.get("duration_s"), json.dumps(t)))
        hooks = rep.get("hooks") or []
        print("hooks: " + ", ".join("%s:%s" % (h.get("func"), h.get("how")) for h in hooks
                                    if isinstance(h, dict)))
        for g in (rep.get("groups") or [])[:12]:
            print("    " + group_str(g))
    elif cmd == "snapshot":
        snapshot(int(args[0]), args[1])
    elif cmd == "compare":
        compare(args[0], args[1], int(args[2], 16) if len(args) > 2 else None)
    else:
        harness_error("unknown command %s" % cmd)
    done()


if __name__ == "__main__":
    main(sys.argv)
