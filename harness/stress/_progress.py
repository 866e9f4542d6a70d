"""The live progress line of a stress run, on stderr.

On a terminal the line is redrawn in place (at most ten times a second);
anywhere else (a CI log) a full line is printed every :data:`LOG_EVERY`
seconds, so logs stay short. Nothing here affects a result.
"""

from __future__ import annotations

import time
from typing import TextIO

LOG_EVERY = 5.0
"""Seconds between two lines when stderr is not a terminal."""


def _bar(fraction: float, width: int = 24) -> str:
    filled = round(max(0.0, min(1.0, fraction)) * width)
    return "#" * filled + "-" * (width - filled)


class Progress:
    """Counts of a running stress session; call :meth:`update` after every chunk."""

    def __init__(self, cells: int, runs: int, stream: TextIO, label: str = "stress") -> None:
        self.cells = cells
        self.runs = runs
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

    def text(self, cells: int, runs: int, failures: int, crashed: int) -> str:
        elapsed = time.monotonic() - self.started
        fraction = runs / self.runs if self.runs else 1.0
        text = (
            f"{self.label} [{_bar(fraction)}] cells {cells}/{self.cells}, "
            f"runs {runs:,}/{self.runs:,}, failures {failures:,}"
        )
        if crashed:
            text += f", crashed {crashed:,}"
        return f"{text} ({elapsed:.0f} s)"

    def update(self, cells: int, runs: int, failures: int, crashed: int = 0) -> None:
        now = time.monotonic()
        self.line = self.text(cells, runs, failures, crashed)
        if self.live:
            if now - self.last >= 0.1 or runs + crashed >= self.runs:
                self.last = now
                self.stream.write("\r\x1b[2K" + self.line)
                self.stream.flush()
                self.drawn = True
        elif now - self.last >= LOG_EVERY:
            self.last = now
            self.stream.write(self.line + "\n")
            self.stream.flush()

    def close(self) -> None:
        """End the live line (or print the final counts once, in a log)."""
        if self.live and self.drawn:
            self.stream.write("\r\x1b[2K" + self.line + "\n")
        elif not self.live and self.line:
            self.stream.write(self.line + "\n")
        self.stream.flush()
