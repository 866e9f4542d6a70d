"""The live progress line of a stress run, on stderr.

On a terminal the line is redrawn in place (at most ten times a second);
anywhere else (a CI log) a full line is printed every :data:`LOG_EVERY`
seconds, so logs stay short. The line always accounts for the whole plan:
runs ended (passed, failed, crashed, timed out) out of the runs planned.
Nothing here affects a result.
"""

from __future__ import annotations

import time
from typing import TextIO

LOG_EVERY = 5.0
"""Seconds between two lines when stderr is not a terminal."""


def _bar(fraction: float, width: int = 24) -> str:
    filled = round(max(0.0, min(1.0, fraction)) * width)
    return "#" * filled + "-" * (width - filled)


def counts_text(
    runs: int, planned: int, failed: int, crashed: int, timed_out: int, never_ran: int = 0
) -> str:
    """``1,234/3,000 runs: 1,200 passed, 30 failed, 3 crashed, 1 timed out``."""
    passed = runs - failed - crashed - timed_out
    parts = [f"{passed:,} passed", f"{failed:,} failed"]
    if crashed:
        parts.append(f"{crashed:,} crashed")
    if timed_out:
        parts.append(f"{timed_out:,} timed out")
    if never_ran:
        parts.append(f"{never_ran:,} never ran")
    return f"{runs:,}/{planned:,} runs: {', '.join(parts)}"


class Progress:
    """Counts of a running stress session; call :meth:`update` after every event."""

    def __init__(self, planned: int, stream: TextIO, label: str = "stress") -> None:
        self.planned = planned
        self.stream = stream
        self.label = label
        try:
            self.live = stream.isatty()
        except (AttributeError, ValueError):
            self.live = False
        self.started = time.monotonic()
        self.last = 0.0 if self.live else self.started
        self.drawn = False
        self.line = ""

    def text(self, runs: int, failed: int, crashed: int, timed_out: int) -> str:
        elapsed = time.monotonic() - self.started
        fraction = runs / self.planned if self.planned else 1.0
        counts = counts_text(runs, self.planned, failed, crashed, timed_out)
        return f"{self.label} [{_bar(fraction)}] {counts} ({elapsed:.0f} s)"

    def update(self, runs: int, failed: int, crashed: int = 0, timed_out: int = 0) -> None:
        now = time.monotonic()
        self.line = self.text(runs, failed, crashed, timed_out)
        try:
            if self.live:
                if now - self.last >= 0.1 or runs >= self.planned:
                    self.last = now
                    self.stream.write("\r\x1b[2K" + self.line)
                    self.stream.flush()
                    self.drawn = True
            elif now - self.last >= LOG_EVERY:
                self.last = now
                self.stream.write(self.line + "\n")
                self.stream.flush()
        except (OSError, ValueError):  # stderr went away: progress is optional
            self.live = False

    def close(self, final: str = "") -> None:
        """End the live line (or print the final counts once, in a log)."""
        line = final or self.line
        try:
            if self.live and self.drawn:
                self.stream.write("\r\x1b[2K" + line + "\n")
            elif line:
                self.stream.write(line + "\n")
            self.stream.flush()
        except (OSError, ValueError):
            pass
