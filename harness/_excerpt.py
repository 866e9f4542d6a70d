"""A failing schedule for people: the steps of the timeline that matter, and the report.

:func:`failure_report` writes what the pytest plugin and
:func:`harness.hypothesis.run_schedule` show: the body's error (library
frames hidden), a headline, the timeline excerpt, and the replay line last.

A failing schedule's full timeline is often hundreds of lines, most of them
the default order doing what it always does. :func:`excerpt` keeps:

* every *notable* step — a deviation from the default order, an injected
  fault, a crash, a recovery, a statement blocked on a lock — with ``context``
  steps either side, so the reader sees what was pending around it;
* for a deviation that executes (or faults) a statement, the ``submit`` steps
  of the statements pending on the same connection at that moment: the
  order they were sent in is what the deviation overtook;
* the last ``tail`` steps, where the failure happened.

Gaps are marked ``...`` by :func:`harness.trace.format_timeline`, and step
numbers are the full timeline's, so an excerpt can be read side by side with
``-v`` output or ``harness.replay(...).timeline``.

Invariants: the excerpt is a function of the events alone (deterministic,
same text in every process); it never reorders or rewrites a step; a timeline
short enough (at most ``full_below`` steps) is shown whole; the replay line is
always the report's last line.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Sequence
from typing import Any

from .trace import Event, format_timeline

NOTABLE_KINDS = frozenset({"fault", "crash", "recover", "block"})
"""Event kinds always kept (besides deviations)."""


def notable(event: Event) -> bool:
    """Whether a step is kept regardless of where it is."""
    return event.deviation or event.kind in NOTABLE_KINDS


def kept_steps(
    events: Sequence[Event], *, context: int = 2, tail: int = 15, full_below: int = 40
) -> list[int]:
    """The 0-based indices :func:`excerpt` shows, in order."""
    total = len(events)
    if total <= max(full_below, tail):
        return list(range(total))
    keep: set[int] = set(range(total - tail, total))
    for i, event in enumerate(events):
        if notable(event):
            keep.update(range(max(0, i - context), min(total, i + context + 1)))
    keep.update(_overtaken_submits(events))
    return sorted(keep)


def _overtaken_submits(events: Sequence[Event], limit: int = 6) -> set[int]:
    """Submit steps of the statements pending where a deviation executed another one.

    A submit reads ``<channel>: <label>`` and the execution of the same
    statement reads ``<label> -> <outcome>`` on actor ``<channel>``; statements
    with equal labels on one channel are matched first in, first out.
    """
    pending: dict[str, list[tuple[int, str]]] = {}
    found: set[int] = set()
    for i, event in enumerate(events):
        if event.kind == "submit":
            channel, sep, label = event.text.partition(": ")
            if sep:
                pending.setdefault(channel, []).append((i, label))
        elif event.kind in ("exec", "fault"):
            queue = pending.get(event.actor, [])
            label = event.text.rpartition(" -> ")[0]
            if event.deviation:
                found.update(index for index, _ in queue[:limit])
            for position, (_, waiting) in enumerate(queue):
                if waiting == label:
                    del queue[position]
                    break
    return found


def excerpt(
    events: Sequence[Event], *, context: int = 2, tail: int = 15, full_below: int = 40
) -> str:
    """Render the steps that matter (see the module docstring)."""
    if not events:
        return format_timeline(events)
    keep = kept_steps(events, context=context, tail=tail, full_below=full_below)
    if len(keep) == len(events):
        return format_timeline(events)
    return format_timeline(events, only=keep)


# ---------------------------------------------------------------- the report
def _hidden_dirs() -> tuple[str, ...]:
    """Library code a reader of a failure report does not need to see."""
    import asyncio

    dirs = [os.path.dirname(os.path.abspath(__file__)), os.path.dirname(asyncio.__file__)]
    for name in ("anyio", "pluggy", "_pytest", "hypothesis"):
        module = sys.modules.get(name)  # only what is loaded can appear in a traceback
        if module is not None and module.__file__:
            dirs.append(os.path.dirname(os.path.abspath(module.__file__)))
    return tuple(d + os.sep for d in dirs)


def _user_frames(error: BaseException) -> list[str]:
    frames = traceback.extract_tb(error.__traceback__)
    hidden = _hidden_dirs()
    kept = []
    for frame in frames:
        path = os.path.abspath(frame.filename)
        if path.startswith(hidden):
            continue
        _ = frame.line  # read the source line before the name changes (it is cached)
        frame.filename = _relative(path)
        kept.append(frame)
    return [line.rstrip("\n") for line in traceback.StackSummary.from_list(kept).format()]


def _relative(path: str) -> str:
    """``path`` relative to the working directory when it lies below it."""
    here = os.getcwd() + os.sep
    return path[len(here) :] if path.startswith(here) else path


def describe_error(error: BaseException, *, indent: str = "", depth: int = 0) -> list[str]:
    """``Type: message`` and where the body raised it (library frames hidden)."""
    name = type(error).__qualname__
    message = str(error)
    lines = [f"{indent}{name}: {message}" if message else f"{indent}{name}"]
    frames = _user_frames(error)
    if frames:
        lines.append(f"{indent}raised at (most recent call last):")
        lines += [indent + line for line in frames]
    if isinstance(error, BaseExceptionGroup) and depth < 3:
        for i, inner in enumerate(error.exceptions[:5], 1):
            lines.append(f"{indent}  [{i}]")
            lines += describe_error(inner, indent=indent + "    ", depth=depth + 1)
        if len(error.exceptions) > 5:
            lines.append(f"{indent}  … and {len(error.exceptions) - 5} more")
    return lines


def failure_report(
    *,
    headline: str,
    error: BaseException,
    events: Sequence[Event],
    replay: str,
    verbose: bool = False,
    notes: dict[str, Any] | None = None,
) -> str:
    """A failing schedule for people: error, headline, timeline, and the replay line last.

    The error comes first so that pytest's one-line summary (the first line of
    the report) reads like any other failure's.
    """
    lines = [*describe_error(error), "", headline]
    if notes:
        shown = repr(notes)
        if len(shown) > 400:
            shown = shown[:399] + "…"
        lines += ["", f"sim.notes: {shown}"]
    steps = f"{len(events)} step{'' if len(events) == 1 else 's'}"
    if verbose:
        title = f"timeline ({steps}):"
        timeline = format_timeline(events)
    else:
        keep = kept_steps(events)
        if len(keep) == len(events):
            title = f"timeline ({steps}):"
        else:
            title = f"timeline (the steps that matter; -v shows all {len(events)}):"
        timeline = excerpt(events)
    lines += ["", title, timeline, "", "replay this schedule:", replay]
    return "\n".join(lines)
