"""ptydrive: runs a program on a pseudo-terminal and talks to it like a person.

Used by the shell tests: what they check is what a person at a terminal would
see (prompt, completion, Ctrl-C), so leaktrap must believe stdin is a tty.
"""
import os
import pty
import re
import select
import signal
import time


class Pty:
    def __init__(self, argv, env=None, log=None):
        self.log = log
        self.buf = b""
        self.seen = b""          # everything read, for failure messages
        pid, fd = pty.fork()
        if pid == 0:
            try:
                os.execve(argv[0], argv, env or os.environ)
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        self.status = None

    def send(self, text):
        """Types text (a str; '\\t' is Tab, '\\x03' is Ctrl-C, '\\r' is Enter)."""
        os.write(self.fd, text.encode())

    def _read(self, timeout):
        r, _, _ = select.select([self.fd], [], [], timeout)
        if not r:
            return False
        try:
            data = os.read(self.fd, 65536)
        except OSError:
            data = b""
        if not data:
            return None
        self.buf += data
        self.seen += data
        if self.log:
            self.log.write(data.decode(errors="replace"))
            self.log.flush()
        return True

    def expect(self, pattern, timeout=20):
        """Waits until pattern (a regex on the screen text since the last
        expect) shows; returns the match or raises TimeoutError."""
        rx = re.compile(pattern.encode() if isinstance(pattern, str) else pattern)
        end = time.monotonic() + timeout
        while True:
            m = rx.search(self.buf)
            if m:
                self.buf = self.buf[m.end():]
                return m
            left = end - time.monotonic()
            if left <= 0 or self._read(left) is None:
                tail = self.seen[-600:].decode(errors="replace")
                raise TimeoutError("no %r within %ss; screen ends with:\n%s" % (pattern, timeout, tail))

    def wait(self, timeout=30):
        """Waits for the program to exit (reading what it prints); returns
        its exit status, or None if it is still running at the timeout."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            pid, st = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = os.waitstatus_to_exitcode(st)
                return self.status
            self._read(0.1)
        return None

    def kill(self):
        """Ends the program the way a user would (SIGTERM: leaktrap detaches
        cleanly), SIGKILL only if it does not go within 20 s."""
        try:
            os.kill(self.pid, signal.SIGTERM)
            if self.wait(20) is None:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
        except OSError:
            pass
