"""A failing schedule for people: the steps of the timeline that matter, and the report.

:func:`failure_report` writes what the pytest plugin and
:func:`harness.hypothesis.run_schedule` show: the body's error (library
frames hidden), a headline, the timeline excerpt, and the replay line last.

A failing schedule's full timeline is often hundreds of lines, most of them
the default order doing what it always does. :func:`excerpt` keeps:

* every *notable* step — a deviation from the default order, an injected
  fault, a crash, a recovery, a statement blocked on a lock, a ``sim.random``
  draw — with ``context`` steps either side, so the reader sees what was
  pending around it;
* every statement that failed, with its ``submit``;
* for a deviation that executes (or faults) a statement: its submit, and the
  statements it overtook — submitted before it on the same connection,
  executed after it — with their submits and executions;
* the last reads before the end (their values are what an assertion looked at);
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

NOTABLE_KINDS = frozenset({"fault", "crash", "recover", "block", "draw"})
"""Event kinds always kept (besides deviations): what shaped the schedule."""

_READS_KEPT = 4  # the last reads before the end: what an assertion usually looked at


def notable(event: Event) -> bool:
    """Whether a step is kept regardless of where it is."""
    return event.deviation or event.kind in NOTABLE_KINDS


def _outcome(event: Event) -> tuple[object, ...]:
    """An exec event's result key (see ``harness._ops.result_key``), or ``()``."""
    fields = event.fields
    if event.kind in ("exec", "fault") and fields and len(fields) == 3:
        outcome = fields[2]
        if isinstance(outcome, tuple):
            return outcome
    return ()


def kept_steps(
    events: Sequence[Event], *, context: int = 2, tail: int = 15, full_below: int = 40
) -> list[int]:
    """The 0-based indices :func:`excerpt` shows, in order (see the module docstring)."""
    total = len(events)
    if total <= max(full_below, tail):
        return list(range(total))
    keep: set[int] = set(range(total - tail, total))

    def around(i: int) -> None:
        keep.update(range(max(0, i - context), min(total, i + context + 1)))

    statements = _Statements(events)
    reads: list[int] = []
    for i, event in enumerate(events):
        if notable(event):
            around(i)
        outcome = _outcome(event)
        if outcome[:1] == ("error",):  # a failing statement, and where it was sent
            around(i)
            keep.update(statements.submit_of(i))
        elif outcome[:1] in (("rows",), ("row",)):
            reads.append(i)
    for i in reads[-_READS_KEPT:]:  # the values the end of the body read
        keep.add(i)
        keep.update(statements.submit_of(i))
    keep.update(statements.overtaken())
    return sorted(keep)


class _Statements:
    """Submit and exec steps of each statement, matched by (connection, ordinal).

    A submit's fields are ``(connection, ordinal, signature)``; the exec of the
    same statement is an event of actor ``connection`` whose fields start with
    that ordinal.
    """

    def __init__(self, events: Sequence[Event]) -> None:
        self.events = events
        self.submits: dict[tuple[str, object], int] = {}
        self.execs: dict[tuple[str, object], int] = {}
        for i, event in enumerate(events):
            fields = event.fields
            if not fields:
                continue
            if event.kind == "submit" and len(fields) >= 2:
                self.submits[(str(fields[0]), fields[1])] = i
            elif event.kind in ("exec", "fault"):
                self.execs.setdefault((event.actor, fields[0]), i)

    def submit_of(self, exec_index: int) -> set[int]:
        event = self.events[exec_index]
        fields = event.fields or (None,)
        found = self.submits.get((event.actor, fields[0]))
        return set() if found is None else {found}

    def overtaken(self, limit: int = 6) -> set[int]:
        """For each deviation that executes a statement: the statements it overtook.

        Those are the statements of the same connection submitted before it and
        executed after it — their submit and their exec — and its own submit.
        """
        found: set[int] = set()
        for (channel, _ordinal), i in self.execs.items():
            if not self.events[i].deviation:
                continue
            found.update(self.submit_of(i))
            overtaken = [
                key
                for key, submitted in self.submits.items()
                if key[0] == channel and submitted < i and self.execs.get(key, -1) > i
            ][:limit]
            for key in overtaken:
                found.add(self.submits[key])
                found.add(self.execs[key])
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
    for note in getattr(error, "__notes__", None) or ():  # e.g. a failing fixture finaliser
        lines.append(f"{indent}{note}")
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
