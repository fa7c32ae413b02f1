#!/usr/bin/env python3
"""folded_check.py: checks a `leaktrap report --format folded` file against
the target's truth. Used by tests/e2e/export_formats.sh; not a test itself.

  folded_check.py FOLDED TRUTH [--every] [--caller NAME]

FOLDED holds lines "root;...;leaf N". TRUTH is the target's stdout ("site
NAME count C bytes B" lines). Checks:
  - every line matches ^[^ ]+ [0-9]+$ and no frame is empty;
  - the line with the biggest N ends in the site with the most true bytes;
  - frames are root first: in every line whose leaf is a site, --caller
    (the function that calls the sites) comes before the site, and the leaf
    is the last frame;
  - with --every: per site, the N of the lines ending in it sum to its true
    bytes exactly.
Prints what it found; exit 0 ok, 1 a check failed, 99 unreadable input.
"""
import re
import sys

LINE = re.compile(r"^[^ ]+ [0-9]+$")


def main(argv):
    if len(argv) < 3:
        print(__doc__)
        return 99
    every = "--every" in argv
    caller = argv[argv.index("--caller") + 1] if "--caller" in argv else None
    try:
        lines = open(argv[1], encoding="utf-8", errors="replace").read().split("\n")
        truth = open(argv[2]).read().split("\n")
    except OSError as e:
        print("folded_check: harness error: %s" % e)
        return 99
    if lines and lines[-1] == "":
        lines.pop()
    else:
        print("folded_check: the file does not end in a newline")
        return 1
    sites = {}
    for t in truth:
        w = t.split()
        if len(w) >= 6 and w[0] == "site":
            sites[w[1]] = int(w[5])
    if not sites:
        print("folded_check: harness error: no site lines in the truth")
        return 99

    problems = []
    stacks = []
    for i, l in enumerate(lines, 1):
        if not LINE.match(l):
            problems.append("line %d does not match ^[^ ]+ [0-9]+$: %r" % (i, l[:200]))
            continue
        frames, n = l.rsplit(" ", 1)
        frames = frames.split(";")
        if any(f == "" for f in frames):
            problems.append("line %d has an empty frame: %r" % (i, l[:200]))
        stacks.append((frames, int(n)))
    if not stacks:
        problems.append("no stacks at all")

    per_site = {s: 0 for s in sites}
    for frames, n in stacks:
        leaf = frames[-1]
        if leaf not in sites:
            continue
        per_site[leaf] += n
        if caller and (caller not in frames or frames.index(caller) > len(frames) - 2):
            problems.append("a %s stack does not have %s before it (root first): %s"
                            % (leaf, caller, ";".join(frames)))
    if stacks:
        top_frames, top_n = max(stacks, key=lambda s: s[1])
        want = max(sites, key=lambda s: sites[s])
        print("folded_check: %d lines; biggest %d bytes at %s" % (len(stacks), top_n, ";".join(top_frames)))
        if top_frames[-1] != want:
            problems.append("the biggest line ends in %s, not in %s" % (top_frames[-1], want))
    for s in sorted(sites):
        print("folded_check: %s: %d bytes in the file, %d true" % (s, per_site[s], sites[s]))
        if every and per_site[s] != sites[s]:
            problems.append("%s: %d bytes, the target says %d" % (s, per_site[s], sites[s]))
    for p in problems:
        print("folded_check: " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
