"""A failing run's error as report data: type, message, and the frames that matter.

A real-mode failure cannot be replayed exactly, so its report keeps what a
developer needs to act on it: the exception type, the first lines of its
message, and a short traceback of the frames in *the code under test* —
a scenario's workload and store, the reference store, the user's test —
without asyncio's, aiosqlite's, pytest's or harness's own engine frames.
Chained causes (``raise Violation(...) from error``) are followed, so the
frame where a store call failed is shown too.
"""

from __future__ import annotations

import os
import sysconfig
import traceback
from typing import Any

MAX_MESSAGE = 500
MAX_FRAMES = 8
_HARNESS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_OWN_CODE = ("scenarios", "reference_store")
_PLUMBING = (os.path.join("scenarios", "_base.py"),)
"""Folders inside the harness package that hold code under test, not engine code."""
_LIBRARIES = tuple(
    {
        os.path.abspath(p)
        for p in (sysconfig.get_paths()[k] for k in ("stdlib", "purelib", "platlib"))
    }
)


def message_of(error: BaseException) -> str:
    """The first lines of ``str(error)``, whitespace collapsed, at most MAX_MESSAGE chars."""
    text = " ".join(str(error).split())
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


def shown_path(filename: str) -> str | None:
    """How a frame's file is shown, or ``None`` when the frame is not code under test."""
    path = os.path.abspath(filename)
    if path.startswith(_HARNESS + os.sep):
        inner = os.path.relpath(path, _HARNESS)
        own = inner.split(os.sep, 1)[0] in _OWN_CODE and inner not in _PLUMBING
        return inner if own else None
    if path.startswith(_LIBRARIES) or filename.startswith("<"):
        return None
    try:
        relative = os.path.relpath(path)
    except ValueError:  # pragma: no cover - another drive on Windows
        return path
    return path if relative.startswith("..") else relative


def frames_of(error: BaseException) -> list[str]:
    """``File "scenarios/x.py", line 88, in workload`` lines, innermost last, causes first."""
    chain: list[BaseException] = []
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen and len(chain) < 4:
        seen.add(id(current))
        chain.append(current)
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
    lines: list[str] = []
    for position, exc in enumerate(reversed(chain)):
        if position:
            lines.append(f"-> {type(exc).__name__}: {message_of(exc)[:120]}")
        for frame in traceback.extract_tb(exc.__traceback__):
            shown = shown_path(frame.filename)
            if shown is not None:
                lines.append(f'File "{shown}", line {frame.lineno}, in {frame.name}')
    return lines[-MAX_FRAMES:]


def describe(error: BaseException) -> dict[str, Any]:
    """``{"error", "message", "traceback"}`` of a failing run."""
    return {
        "error": type(error).__name__,
        "message": message_of(error),
        "traceback": frames_of(error),
    }
