"""The small protocol between the engine and a scheduling strategy.

The engine asks a strategy only at *choice points*: moments where more than
one thing could happen next in the real world (a ready callback runs, or a
pending statement executes, a result is delivered, a notification arrives, a
fault strikes). ``alternatives[0]`` is always the
*default order* — loop first, then the oldest pending environment action —
so "number of non-zero choices" is the number of deviations from it.

A strategy is a stateful object used for one exploration:

* ``begin(seed)`` starts a schedule and returns the seed of ``sim.random`` for
  it, or ``None`` when the strategy has nothing more to try (its bounded
  space is covered);
* ``choose(point)`` returns the index of the alternative to take;
* ``end(decisions)`` reports the schedule as it ran: one ``(choice, count)``
  pair per choice point.

Invariant every strategy must keep: given the same sequence of ``begin``
seeds and the same choice points, it makes the same choices (no global
randomness, no clocks). That is what makes exploration reproducible.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Hashable, Sequence
from typing import Protocol, runtime_checkable


class Kind(enum.Enum):
    """What an alternative does."""

    RUN = "run"  # run the next ready callback (asyncio's FIFO order)
    EXEC = "exec"  # a pending operation executes (a statement runs on SQLite)
    DELIVER = "deliver"  # an executed operation's result reaches the loop
    NOTIFY = "notify"  # a notification reaches a subscriber
    FAULT = "fault"  # a pending operation fails with an injected fault instead
    CRASH = "crash"  # the process crashes here


# The members as plain constants, for hot paths: reading an enum class attribute costs ~0.2 µs
K_RUN, K_EXEC, K_DELIVER = Kind.RUN, Kind.EXEC, Kind.DELIVER
K_NOTIFY, K_FAULT, K_CRASH = Kind.NOTIFY, Kind.FAULT, Kind.CRASH


class Alternative:
    """One thing that may happen next.

    ``actor`` names the independent agent that performs it (the loop, one
    connection's worker thread, one pool job, one subscriber, the clock): a
    "thread" in the sense of PCT. ``fault`` is the fault kind for
    :attr:`Kind.FAULT`. ``target`` is the engine's own handle; strategies must
    not touch it.
    """

    __slots__ = ("actor", "fault", "kind", "target")

    def __init__(
        self, kind: Kind, actor: str, fault: str | None = None, target: object = None
    ) -> None:
        self.kind = kind
        self.actor = actor
        self.fault = fault
        self.target = target

    def __repr__(self) -> str:
        extra = f" {self.fault}" if self.fault else ""
        return f"<{self.kind.value} {self.actor}{extra}>"


class ChoicePoint:
    """A moment with more than one possible next step.

    ``index`` counts choice points from 0 within one schedule (across a crash
    and its recovery). ``idle`` is true when no callback is ready, so the loop
    would block in the real world. ``anchor`` locates the point by meaning:
    ``(semantic events so far, choice points since the last one, task steps
    since the last one)`` — what a semantic token records (``harness.tokens``).

    Two engine services, for strategies that reduce by commutation (None when
    the engine offers none): ``identity(alt)`` names what an alternative does
    independently of its index and of this point ("execute the 3rd job of
    app.db#2"), and ``commute(a, b)`` is True only when taking ``a`` then
    ``b`` from here provably reaches the same state as ``b`` then ``a`` (see
    ``harness._alternatives.commute`` for what it relies on). ``steps`` counts
    the steps the engine has taken in this schedule before this point (every
    callback run and every environment step, offered or not): two choice
    points are adjacent — nothing happened between the step taken at the
    first and the second — exactly when the second's ``steps`` is the first's
    plus one.
    """

    __slots__ = ("alternatives", "anchor", "commute", "identity", "idle", "index", "steps")

    def __init__(
        self,
        index: int,
        alternatives: Sequence[Alternative],
        idle: bool,
        anchor: tuple[int, int, int] = (0, 0, 0),
        commute: Callable[[Alternative, Alternative], bool] | None = None,
        identity: Callable[[Alternative], Hashable] | None = None,
        steps: int | None = None,
    ) -> None:
        self.index = index
        self.alternatives = alternatives
        self.idle = idle
        self.anchor = anchor
        self.commute = commute
        self.identity = identity
        self.steps = steps


Decision = tuple[int, int]
"""``(choice, count)``: the index taken and how many alternatives there were."""

ORDINARY = frozenset({Kind.RUN, Kind.EXEC, Kind.DELIVER, Kind.NOTIFY})
"""Alternatives that are neither faults nor crashes."""


@runtime_checkable
class Strategy(Protocol):
    """Chooses among alternatives at choice points; see the module docstring."""

    def begin(self, seed: int) -> int | None:
        """Start a schedule. Return the ``sim.random`` seed, or None when exhausted."""
        ...

    def choose(self, point: ChoicePoint) -> int:
        """Return the index of the alternative to take at ``point``."""
        ...

    def end(self, decisions: Sequence[Decision]) -> None:
        """Learn how the schedule went: one ``(choice, count)`` per choice point."""
        ...
