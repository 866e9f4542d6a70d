"""The per-run timeout, enforced from outside the worker process.

A run can hang where nothing inside its process can stop it: in C code (a
runaway SQLite query holds the main thread inside ``sqlite3_step``, so no
Python signal handler runs), in a busy loop, in a deadlock. So every stress
worker starts one small *watchdog* process (``python -m
harness.stress._watchdog PID``) and tells it, through a pipe, when each run
starts (``arm SECONDS``) and ends (``disarm``). If a run is still armed at its
deadline the watchdog kills the worker with ``SIGKILL``; pytest-xdist then
reports the item as crashed and starts a replacement worker, and the stress
controller records the run as timed out (:mod:`._ledger`).

The watchdog exits when its pipe closes — the worker ended or died — so it
never outlives its worker. It sits in its own session, so a Ctrl-C aimed at
the terminal's process group does not reach it.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import time
from typing import IO

KILL_GRACE = 0.5
"""Seconds past a run's timeout before the watchdog kills (the controller's margin)."""


class Watchdog:
    """The worker's side: start the watchdog process, arm and disarm it per run.

    Arming is best effort: if the watchdog cannot be started or has died, runs
    go on untimed rather than fail.
    """

    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None
        self._pipe: IO[bytes] | None = None

    def _start(self) -> IO[bytes] | None:
        if self._process is None:
            try:
                self._process = subprocess.Popen(
                    [sys.executable, "-m", "harness.stress._watchdog", str(os.getpid())],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    close_fds=True,
                    start_new_session=True,
                )
            except OSError:
                return None
            self._pipe = self._process.stdin
        return self._pipe

    def _send(self, line: str) -> None:
        pipe = self._start()
        if pipe is None:
            return
        try:
            pipe.write(line.encode() + b"\n")
            pipe.flush()
        except OSError:
            self._pipe = None

    def arm(self, seconds: float) -> None:
        """Kill this process unless :meth:`disarm` comes within ``seconds`` (+ grace)."""
        self._send(f"arm {seconds + KILL_GRACE:.3f}")

    def disarm(self) -> None:
        if self._pipe is not None:
            self._send("disarm")

    def close(self) -> None:
        if self._pipe is not None:
            with contextlib.suppress(OSError):
                self._pipe.close()
        if self._process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout=5)
        self._process = self._pipe = None


def watch(pid: int, commands: IO[bytes]) -> int:
    """The watchdog's loop: kill ``pid`` when an armed deadline passes; 0 when the pipe ends."""
    deadline: float | None = None
    buffer = b""
    fd = commands.fileno()
    while True:
        wait = None if deadline is None else max(0.0, deadline - time.monotonic())
        ready, _, _ = select.select([fd], [], [], wait)
        if not ready:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
            return 1
        chunk = os.read(fd, 4096)
        if not chunk:
            return 0
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            word, _, value = line.decode(errors="replace").partition(" ")
            if word == "arm":
                deadline = time.monotonic() + float(value)
            elif word == "disarm":
                deadline = None


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    return watch(int(argv[0]), sys.stdin.buffer)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
