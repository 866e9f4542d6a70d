"""Environment operations and the channels that execute them.

An :class:`Op` is work the loop hands to the environment: a statement for a
connection's worker thread, a function for a thread pool. Its life has three
steps, each taken when the strategy chooses it::

    submit (on the loop) -> execute (on "the thread") -> deliver (result reaches the loop)

A :class:`Channel` is one executor of ops. ``serial`` channels model
aiosqlite's one-thread-one-queue-per-connection: ops execute in submission
order, and an op's result is posted before the next op executes (the worker
thread does ``result = fn(); call_soon_threadsafe(...)`` in a loop). Non-serial
channels model a pool (``parallel`` mode): any pending op may execute next and
results arrive in any order; *barrier* ops (connect, close) wait for every
earlier op and hold back every later one. A *blocked* op (waiting for a
SQLite lock) holds its channel: SQLite keeps the connection mutex while the
busy handler waits, so nothing else runs on that connection meanwhile.
"""

from __future__ import annotations

import asyncio
import enum
import sqlite3
from collections.abc import Callable, Hashable, Iterator
from functools import partial
from typing import Any

from ._context import current_world
from .trace import scrub, short


class OpState(enum.IntEnum):
    PENDING = 0  # submitted, may execute
    BLOCKED = 1  # executed once, waits for a lock (busy handler, in virtual time)
    EXECUTED = 2  # ran; result waits to be delivered
    DONE = 3  # delivered
    SLEEPING = 4  # ran, but slept (time.sleep in pool work): deliverable once the time passed


# The members as plain constants, for hot paths: reading an enum class attribute costs ~0.2 µs
PENDING, BLOCKED, EXECUTED = OpState.PENDING, OpState.BLOCKED, OpState.EXECUTED
DONE, SLEEPING = OpState.DONE, OpState.SLEEPING


class Op:
    """One environment operation. Subclasses implement :meth:`run`."""

    __slots__ = (
        "_label",
        "actor",
        "barrier",
        "channel",
        "committed",
        "deadline",
        "deadline_handle",
        "error",
        "final",
        "future",
        "id",
        "ordinal",
        "state",
        "submitter",
        "value",
        "write",
    )

    def __init__(
        self,
        channel: Channel,
        label: str | None,
        future: asyncio.Future[Any] | None,
        *,
        barrier: bool = False,
        write: bool = False,
    ) -> None:
        # sqlite's JobOp sets these same fields itself (its hot path): keep the two in step
        self.id = 0
        self.ordinal = 0  # n-th op submitted to its channel: stable across nearby schedules
        self.channel = channel
        self._label = label  # None: built on first use (most labels are never shown)
        self.future = future
        self.barrier = barrier
        self.write = write  # a write or COMMIT: where faults and crashes may strike
        self.state = PENDING
        self.value: Any = None
        self.error: BaseException | None = None
        self.submitter = "loop"
        self.committed = False  # a transaction committed while it ran (crash-after-commit point)
        self.deadline: float | None = None
        self.deadline_handle: asyncio.TimerHandle | None = None
        self.final = False  # the busy deadline passed: the next attempt is the last
        self.actor = channel.name

    @property
    def label(self) -> str:
        """What the op does, for the timeline (SQL and parameters cut short)."""
        label = self._label
        if label is None:
            label = self._label = self.describe_call()
        return label

    def describe_call(self) -> str:
        return type(self).__name__

    def run(self, fault: str | None) -> bool:
        """Execute now. Return False if the op must wait for a lock (it stays BLOCKED)."""
        raise NotImplementedError

    def fault_kinds(self) -> tuple[str, ...]:
        """The fault kinds the real world could produce if this op executed now."""
        return ()

    semantic = True
    """Whether its events are semantic (hashed, anchors): False for aiosqlite's own plumbing."""

    delay = 0.0
    """Virtual seconds the work slept when it ran (pool work's ``time.sleep``; see CallOp)."""

    def signature(self) -> tuple[object, ...]:
        """What was asked, as plain values (the semantic fields of its submit event)."""
        return ("call", self.label)

    def footprint(self) -> Hashable | None:
        """What executing it now touches, when that is only a database (None: anything).

        Used by :func:`harness._alternatives.commute`; the default is the
        conservative answer.
        """
        return None

    def commutes(self, other: Op) -> bool:
        """Whether executing it and ``other`` (another channel's) commute now."""
        return False

    def outcome_key(self) -> tuple[object, ...]:
        """The result as plain values (semantic), taken at once.

        Taken at once: the timeline must not keep results (cursors) alive —
        aiosqlite's worker drops them, and an unreleased cursor keeps its
        statement open in SQLite.
        """
        return result_key(self.value, self.error)

    def deferred_outcome_key(self) -> Callable[[], tuple[object, ...]]:
        """:meth:`outcome_key` as a function computed on first use (:func:`deferred_result_key`)."""
        return deferred_result_key(self.value, self.error)

    def outcome(self) -> str:
        """The result, summarised for the timeline."""
        return describe_result(self.outcome_key())

    def __repr__(self) -> str:
        return f"<Op {self.id} {self.channel.name} {self.label!r} {self.state.name}>"


_ROWS_HASHED = 200  # rows of a result that enter the digest (and the count of all)


def _row(value: Any) -> str:
    return repr(tuple(value)) if isinstance(value, sqlite3.Row) else repr(value)


def result_key(value: Any, error: BaseException | None) -> tuple[object, ...]:
    """A result as plain values: what the digest hashes (part of the h2 format).

    ``("error", type, SQLite error code, message)``, ``("rows", n, first rows)``,
    ``("row", row)``, ``("cursor", rowcount)``, ``("ok",)`` or ``("value", repr)``;
    addresses and thread ids are scrubbed from any text.
    """
    if error is not None:
        code = getattr(error, "sqlite_errorcode", None)
        return ("error", type(error).__name__, code, scrub(str(error)))
    if type(value) is sqlite3.Cursor:  # the commonest result (execute): checked first
        return ("cursor", value.rowcount)
    if value is None or isinstance(value, sqlite3.Connection):
        return ("ok",)
    if isinstance(value, list):
        return ("rows", len(value), scrub(", ".join(_row(r) for r in value[:_ROWS_HASHED])))
    if isinstance(value, tuple | sqlite3.Row):
        return ("row", scrub(_row(value)))
    if isinstance(value, sqlite3.Cursor):
        return ("cursor", value.rowcount)
    return ("value", type(value).__name__, scrub(short(repr(value), 200)))


def deferred_result_key(
    value: Any, error: BaseException | None
) -> Callable[[], tuple[object, ...]]:
    """:func:`result_key` computed on first use (most schedules never need it).

    Rows (a list of rows, one row) are formatted later from a shallow copy
    taken now — rows are tuples or ``sqlite3.Row``, which nothing can change,
    so every call gives the same key — and keep no cursor alive; every other
    result is keyed at once (a cursor's rowcount changes as it is used).
    """
    if error is None:
        kind = type(value)
        if kind is sqlite3.Cursor:  # the commonest (execute): keyed now, as result_key does
            return partial(_same, ("cursor", value.rowcount))
        if kind is list:
            return partial(_rows_key, len(value), value[:_ROWS_HASHED])
        if isinstance(value, tuple | sqlite3.Row):
            return partial(_row_key, value)
    return partial(_same, result_key(value, error))


def _rows_key(count: int, rows: list[Any]) -> tuple[object, ...]:
    return ("rows", count, scrub(", ".join(_row(r) for r in rows)))


def _row_key(value: Any) -> tuple[object, ...]:
    return ("row", scrub(_row(value)))


def _same(key: tuple[object, ...]) -> tuple[object, ...]:
    return key


def describe_result(key: tuple[object, ...]) -> str:
    """A result key for people: ``2 rows: (1,), (2,)``, ``ok, rowcount=1``, the error."""
    kind = key[0]
    if kind == "error":
        return f"{key[1]}: {key[3]}"
    if kind == "rows":
        count = key[1]
        if not count:
            return "0 rows"
        return f"{count} row{'s' if count != 1 else ''}: {short(str(key[2]), 60)}"
    if kind == "row":
        return f"1 row {short(str(key[1]), 60)}"
    if kind == "cursor":
        rowcount = key[1]
        return f"ok, rowcount={rowcount}" if isinstance(rowcount, int) and rowcount >= 0 else "ok"
    if kind == "value":
        return short(str(key[2]), 60)
    return "ok"


def describe(value: Any) -> str:
    """Summarise a result for the timeline without dumping large data."""
    return describe_result(result_key(value, None))


class Channel:
    """An executor of ops (a connection's worker thread, or a pool)."""

    __slots__ = ("blocked", "name", "ops", "serial", "submitted")

    def __init__(self, name: str, *, serial: bool) -> None:
        self.name = name
        self.serial = serial
        self.ops: list[Op] = []
        self.blocked: Op | None = None
        self.submitted = 0

    def enabled(self) -> Iterator[Op]:
        """The ops that may take their next step now (see the module docstring)."""
        ops = self.ops
        if not ops:
            return
        if self.serial:
            head = ops[0]
            if head.state is EXECUTED or head.state is PENDING:
                yield head
            return
        earlier_pending = False
        gate = self.blocked is not None
        for op in ops:
            state = op.state
            if state is EXECUTED:
                yield op
            elif state is SLEEPING:
                continue
            elif state is PENDING:
                if not gate and (not op.barrier or not earlier_pending):
                    yield op
                if op.barrier:
                    gate = True
                earlier_pending = True
            elif state is BLOCKED:
                earlier_pending = True


class CallOp(Op):
    """A plain function call (``run_in_executor`` / ``to_thread`` work).

    ``time.sleep`` inside the call does not block: it adds to :attr:`delay`,
    and the result is deliverable only once that much virtual time has passed
    — as a worker thread that sleeps (see ``World._execute``).
    """

    __slots__ = ("call", "delay")

    def __init__(
        self, channel: Channel, label: str, future: asyncio.Future[Any], call: Callable[[], Any]
    ) -> None:
        super().__init__(channel, label, future)
        self.call = call
        self.delay = 0.0

    def run(self, fault: str | None) -> bool:
        world = current_world()
        if world is not None:
            world.pool_job = self
        try:
            self.value = self.call()
        except BaseException as exc:  # the worker thread hands every exception back
            self.error = exc
        finally:
            if world is not None:
                world.pool_job = None
        self.call = _spent  # the pool drops the work item once it ran
        return True


def _spent() -> None:
    raise RuntimeError("harness: an operation ran twice")


class Delivery:
    """A notification on its way to one subscriber."""

    __slots__ = ("actor", "apply", "id", "label", "ordinal", "shown")

    def __init__(self, shown: str, label: str, apply: Callable[[], None]) -> None:
        self.id = 0
        self.ordinal = 0  # n-th notification to this subscriber
        self.shown = shown  # the subscriber, as the timeline names it
        self.actor = shown  # the scheduling identity (one per notification, set on enable)
        self.label = label
        self.apply = apply
