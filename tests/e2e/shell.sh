#!/bin/bash
# shell: the interactive shell as a person at a terminal sees it, driven
# through a pseudo-terminal (tests/e2e/ptydrive.py) on leak_threads:
#  - the banner and the "(leaktrap) " prompt;
#  - Tab completes "li" to "live " and "live by sit" to "live by site ";
#  - "live by site" lists leak_big first once the target did its work;
#  - "help live" prints its usage; an unknown command is one error line and
#    the shell goes on;
#  - "watch 1s status" repeats until Ctrl-C, which returns to the prompt
#    still attached ("status" says running);
#  - Ctrl-C on a half-typed line drops it and gives a new prompt;
#  - "quit" detaches: exit 0, target untraced, code identical, the history
#    file ~/.leaktrap_history holds the commands typed;
#  - a second session ends with Ctrl-D, and up-arrow recalls history.
. "$(dirname "$0")/lib.sh"

start_target leak_threads
snap "$TPID" before
export HOME=$T/home
mkdir -p "$HOME"

TPID=$TPID LT=$LT LOG=$T/pty.log timeout -k 5 120 python3 - <<'PY' || fail "the shell session went wrong (see above)"
import os, sys, signal, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(sys.argv[0] if sys.argv[0] != '-' else '.')), 'tests', 'e2e'))
sys.path.insert(0, os.environ.get('E2E_DIR', 'tests/e2e'))
from ptydrive import Pty

tpid = int(os.environ['TPID'])
env = dict(os.environ, TERM='xterm')
log = open(os.environ['LOG'], 'a')
p = Pty([os.environ['LT'], '-p', str(tpid), '--every'], env=env, log=log)
try:
    p.expect(r"'help' lists the commands")
    p.expect(r"\(leaktrap\) ")
    print("ok: banner and prompt")
    os.kill(tpid, signal.SIGUSR1)            # the target does its work now
    time.sleep(1.5)
    p.send("li\t")
    p.expect(r"live ")
    p.send("by sit\t")
    p.expect(r"site ")
    print("ok: completion of li<TAB> and by sit<TAB>")
    p.send("\r")
    m = p.expect(r"(?s)live by site:.*?\n\s+1\s+[^\n]*leak_big[^\n]*\n")
    print("ok: live by site lists leak_big first")
    p.expect(r"\(leaktrap\) ")
    p.send("help live\r")
    p.expect(r"usage: live \[by stack\|site")
    p.expect(r"\(leaktrap\) ")
    print("ok: help live")
    p.send("frobnicate\r")
    p.expect(r"leaktrap: unknown command 'frobnicate'")
    p.expect(r"\(leaktrap\) ")
    print("ok: unknown command")
    p.send("watch 1s status\r")
    p.expect(r"round 2")
    p.send("\x03")
    p.expect(r"\(interrupted\)")
    p.expect(r"\(leaktrap\) ")
    p.send("status\r")
    p.expect(r"target: +%d \(leak_threads\), running" % tpid)
    p.expect(r"\(leaktrap\) ")
    print("ok: Ctrl-C ends watch and stays attached")
    p.send("live by func half-typed")
    time.sleep(0.3)
    p.send("\x03")
    p.expect(r"\(leaktrap\) ")
    p.send("snapshots\r")
    p.expect(r"no snapshots")
    p.expect(r"\(leaktrap\) ")
    print("ok: Ctrl-C drops a half-typed line")
    p.send("quit\r")
    st = p.wait(30)
    if st != 0:
        sys.exit("FAIL: quit: exit status %s" % st)
    print("ok: quit exits 0")
    hist = open(os.path.join(os.environ['HOME'], '.leaktrap_history')).read()
    for cmd in ("live by site", "help live", "watch 1s status", "quit"):
        if cmd not in hist:
            sys.exit("FAIL: %r is not in ~/.leaktrap_history:\n%s" % (cmd, hist))
    if "half-typed" in hist:
        sys.exit("FAIL: the line dropped with Ctrl-C went into the history")
    print("ok: history file")

    p = Pty([os.environ['LT'], '-p', str(tpid)], env=env, log=log)
    p.expect(r"\(leaktrap\) ")
    p.send("\x1b[A")                        # up arrow: the last command
    p.expect(r"quit")
    p.send("\x15")                          # Ctrl-U: clear the line
    p.send("\x04")                          # Ctrl-D on an empty line: quit
    st = p.wait(30)
    if st != 0:
        sys.exit("FAIL: Ctrl-D: exit status %s" % st)
    print("ok: up arrow recalls history, Ctrl-D quits")
except TimeoutError as e:
    p.kill()
    sys.exit("FAIL: %s" % e)
PY
untraced "$TPID"
same_code "$TPID" before
stop_target "$TPID" 0
finish
