"""Runs the real wattrack daemon for integration tests and watches its log."""

import os
import re
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.environ.get("WT_SOURCE_ROOT", "."), "tests/lib"))
from wtfix import BUILD_ROOT, spawn, stop_pid  # noqa: E402

WATTRACK = os.path.join(BUILD_ROOT, "wattrack")

# The API on a free loopback port, plain HTTP, no HTTPS: tests run in
# parallel and must not fight over 8080/8443.
TEST_API = ("api.listen = 127.0.0.1\napi.http = on\napi.http_port = 0\n"
            "api.https_port = 0\n")


def run(args, **kw):
    """Runs wattrack to completion; returns CompletedProcess with text output."""
    return subprocess.run([WATTRACK] + args, capture_output=True, text=True, timeout=60, **kw)


class Daemon:
    """wattrack in the foreground; every stderr line is kept and echoed."""

    def __init__(self, config, extra=(), **popen_kw):
        self.lines = []
        self._cv = threading.Condition()
        self.proc = spawn([WATTRACK, "--config", config] + list(extra),
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                          **popen_kw)
        self._t = threading.Thread(target=self._read, daemon=True)
        self._t.start()

    def _read(self):
        for line in self.proc.stderr:
            line = line.rstrip("\n")
            print("  wattrack| " + line, flush=True)
            with self._cv:
                self.lines.append(line)
                self._cv.notify_all()
        with self._cv:
            self._cv.notify_all()

    def wait_for(self, pattern, timeout=30, start=0):
        """Index of the first line from `start` on matching pattern, or None
        after timeout or when the daemon exits."""
        rx = re.compile(pattern)
        deadline = time.time() + timeout
        with self._cv:
            while True:
                for i in range(start, len(self.lines)):
                    if rx.search(self.lines[i]):
                        return i
                left = deadline - time.time()
                if left <= 0 or (self.proc.poll() is not None and not self._t.is_alive()):
                    return None
                self._cv.wait(min(left, 0.2))

    def count(self, pattern, start=0):
        rx = re.compile(pattern)
        with self._cv:
            return sum(1 for line in self.lines[start:] if rx.search(line))

    def mark(self):
        with self._cv:
            return len(self.lines)

    def signal(self, sig):
        os.kill(self.proc.pid, sig)

    def stop(self, timeout=60):
        """SIGTERM; returns the exit code."""
        rc = stop_pid(self.proc, timeout=timeout)
        self._t.join(5)
        return rc

    def alive(self):
        return self.proc.poll() is None
