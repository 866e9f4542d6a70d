"""SIGINT, SIGTERM and SIGHUP during a stress run: stop soon, write what was measured.

The first signal stops the run: the caller's ``stop`` kills the local
workers (so nothing is left running and the session ends within seconds),
then ``KeyboardInterrupt`` unwinds the pytest session, and the caller writes
the partial report, marked interrupted by that signal, with every run that
did not end counted as never ran. A second signal exits at once with status
``128 + signal number``, after killing the workers again.

Signals are deferred while the controller updates its ledger
(:meth:`Interrupts.critical`), so a record is never half written.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any, TextIO

SIGNALS = tuple(
    s for s in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)) if s is not None
)


def leave_interrupts_to_the_controller() -> None:
    """In a stress worker: ignore Ctrl-C (it reaches the process group; the controller acts).

    Only the main thread may set handlers; a worker that runs in another thread
    (an execnet socket server executes its session in one) leaves them alone —
    its controller is on another machine, and the signal never reaches it.
    """
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


class Interrupts:
    """Install the handlers for the duration of a ``with`` block (main thread only)."""

    def __init__(self, stop: Callable[[], None], stream: TextIO, label: str = "harness") -> None:
        self.stop = stop
        self.stream = stream
        self.label = label
        self.signal: str | None = None
        self.status = 0
        self._previous: dict[int, Any] = {}
        self._busy = 0
        self._pending = False

    @property
    def requested(self) -> bool:
        return self.signal is not None

    def __enter__(self) -> Interrupts:
        if threading.current_thread() is threading.main_thread():
            for signum in SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous.clear()

    @contextlib.contextmanager
    def critical(self) -> Iterator[None]:
        """Defer the ``KeyboardInterrupt`` of a first signal until the block ends."""
        self._busy += 1
        try:
            yield
        finally:
            self._busy -= 1
            if self._pending and not self._busy:
                self._pending = False
                raise KeyboardInterrupt

    def _say(self, text: str) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.stream.write(text)
            self.stream.flush()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        with contextlib.suppress(Exception):
            self.stop()
        if self.signal is not None:
            self._say(f"\n{self.label}: {name} again: exiting now\n")
            os._exit(128 + signum)
        self.signal, self.status = name, 128 + signum
        self._say(
            f"\n{self.label}: {name}: stopping, writing what was measured "
            f"({name} again to exit at once)\n"
        )
        if self._busy:
            self._pending = True
            return
        raise KeyboardInterrupt
