"""Histories: invocations and returns of operations, as a client saw them.

A :class:`Recorder` appends plain events to a list — inside a schedule that
list lives in ``sim.notes``, so it survives a crash exactly as the client's
view does (the engine copies the notes at the instant of the crash). Events::

    ("invoke", id, actor, op, args, time)
    ("return", id, value, time)
    ("raise", id, exception, time)
    ("timeout", id, time)          # the caller's wait_for gave up: outcome unknown
    ("crash", number, time)        # the process died; the next incarnation recovers

An event's *position* in the list is its place in real time: the recorder
runs on the single event-loop thread, so list order is the order in which
things happened (virtual time alone cannot say that — operations take no
virtual time). :meth:`Recorder.history` turns the events into a
:class:`History` of :class:`Entry` objects.

Outcomes:

* ``returned`` and ``raised`` are results the model must reproduce;
* ``unknown`` — in flight at a crash, timed out, or raised an *indefinite*
  error (a fault passed on): the operation may have taken effect at any point
  after its invocation, or not at all. Its window ends at the first crash
  after its invocation (a dead process does nothing more); otherwise it is
  open: a statement whose awaiting caller gave up may still execute later.
"""

from __future__ import annotations

import copy
import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .spec import Call

NOTES_KEY = "harness.linearizability"


class Status(enum.Enum):
    """How an operation ended, as the caller saw it (values are the human words)."""

    RETURNED = "returned"
    RAISED = "raised"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Entry:
    """One operation of a history.

    ``invoked``/``finished`` are positions in the history's event order
    (``finished`` is ``None`` when the caller never heard back). ``deadline``
    is the position of the crash that ends an unknown operation's window, or
    ``None`` when the window is open. ``value`` is the result, or the exception.
    """

    id: int
    actor: str
    call: Call
    invoked: int
    finished: int | None
    status: Status
    value: Any = None
    note: str = ""
    t_invoked: float = 0.0
    t_finished: float | None = None
    deadline: int | None = None

    @property
    def unknown(self) -> bool:
        return self.status is Status.UNKNOWN

    def outcome(self) -> str:
        """``-> 3``, ``raised KeyError('x')`` or ``? unknown (why)`` for reports."""
        if self.status is Status.RETURNED:
            return f"-> {self.value!r}"
        if self.status is Status.RAISED:
            return f"raised {_exception(self.value)}"
        return f"? {self.note}"


@dataclass(frozen=True)
class CrashMark:
    """A crash of the process at ``position``; ``in_flight`` are the ids it cut short."""

    number: int
    position: int
    time: float
    in_flight: tuple[int, ...]


@dataclass(frozen=True)
class History:
    """A recorded history: entries in invocation order and the crashes among them."""

    entries: tuple[Entry, ...]
    crashes: tuple[CrashMark, ...] = ()
    length: int = 0  # number of events

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def actors(self) -> list[str]:
        """Actors in order of first appearance."""
        return list(dict.fromkeys(e.actor for e in self.entries))


def _exception(exc: Any) -> str:
    if isinstance(exc, BaseException):
        text = str(exc)
        return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return repr(exc)


def _snapshot(value: Any) -> Any:
    """A copy the store cannot mutate after the fact (as it was when returned)."""
    try:
        return copy.deepcopy(value)
    except Exception:
        return value


class Recorder:
    """Appends history events to ``events`` (see the module docstring)."""

    def __init__(self, events: list[Any] | None = None, clock: Callable[[], float] = float):
        self.events: list[Any] = [] if events is None else events
        self._clock = clock
        self._next = sum(1 for e in self.events if e[0] == "invoke")

    def invoke(self, actor: str, op: str, *args: Any) -> int:
        """Record an invocation; returns the operation's id."""
        op_id = self._next
        self._next += 1
        self.events.append(("invoke", op_id, actor, op, tuple(args), self._clock()))
        return op_id

    def returned(self, op_id: int, value: Any = None) -> None:
        self.events.append(("return", op_id, _snapshot(value), self._clock()))

    def raised(self, op_id: int, error: BaseException) -> None:
        self.events.append(("raise", op_id, _snapshot(error), self._clock()))

    def timed_out(self, op_id: int) -> None:
        self.events.append(("timeout", op_id, self._clock()))

    def crash(self, number: int | None = None) -> None:
        crashes = sum(1 for e in self.events if e[0] == "crash")
        self.events.append(("crash", crashes + 1 if number is None else number, self._clock()))

    def history(self, indefinite: Sequence[type[BaseException]] = ()) -> History:
        """The history so far; exceptions of the ``indefinite`` types make outcomes unknown."""
        return build(self.events, tuple(indefinite))


def build(events: Sequence[Any], indefinite: tuple[type[BaseException], ...] = ()) -> History:
    """Turn recorder events into a :class:`History` (see the module docstring)."""
    invokes: dict[int, tuple[int, str, Call, float]] = {}
    ends: dict[int, tuple[int, str, Any, float]] = {}
    crashes: list[tuple[int, int, float]] = []
    for position, event in enumerate(events):
        kind = event[0]
        if kind == "invoke":
            _, op_id, actor, op, args, t = event
            invokes[op_id] = (position, actor, Call(op, tuple(args)), t)
        elif kind in ("return", "raise"):
            _, op_id, value, t = event
            ends[op_id] = (position, kind, value, t)
        elif kind == "timeout":
            _, op_id, t = event
            ends[op_id] = (position, kind, None, t)
        elif kind == "crash":
            _, number, t = event
            crashes.append((number, position, t))
        else:
            raise ValueError(f"unknown history event {event!r}")
    marks = []
    for number, position, t in crashes:
        cut = tuple(
            i
            for i, (at, *_rest) in sorted(invokes.items())
            if at < position and (i not in ends or ends[i][0] > position)
        )
        marks.append(CrashMark(number, position, t, cut))
    entries = []
    for op_id, (at, actor, call, t) in sorted(invokes.items(), key=lambda kv: kv[1][0]):
        deadline = next((p for _, p, _t in crashes if p > at), None)
        end = ends.get(op_id)
        if end is not None and deadline is not None and end[0] > deadline:
            end = None  # heard back only in a later incarnation: impossible, treat as cut
        entries.append(_entry(op_id, actor, call, at, t, end, deadline, indefinite))
    return History(tuple(entries), tuple(marks), len(events))


def _entry(
    op_id: int,
    actor: str,
    call: Call,
    at: int,
    t: float,
    end: tuple[int, str, Any, float] | None,
    deadline: int | None,
    indefinite: tuple[type[BaseException], ...],
) -> Entry:
    common: dict[str, Any] = {"id": op_id, "actor": actor, "call": call, "invoked": at}
    common["t_invoked"] = t
    if end is None:
        why = "in flight at the crash" if deadline is not None else "never returned"
        return Entry(**common, finished=None, status=Status.UNKNOWN, note=why, deadline=deadline)
    position, kind, value, t_end = end
    common.update(finished=position, t_finished=t_end)
    if kind == "return":
        return Entry(**common, status=Status.RETURNED, value=value)
    if kind == "timeout":
        return Entry(
            **common,
            status=Status.UNKNOWN,
            note="timed out: may still take effect",
            deadline=deadline,
        )
    if indefinite and isinstance(value, indefinite):
        return Entry(
            **common,
            status=Status.UNKNOWN,
            value=value,
            note=f"raised {_exception(value)}: outcome unknown",
            deadline=deadline,
        )
    return Entry(**common, status=Status.RAISED, value=value)
