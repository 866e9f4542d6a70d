"""Replay a semantic schedule: each recorded deviation, taken when it is possible.

A semantic schedule (``harness.tokens``) lists only the deviations from the
default order, each by *what* it chose and *when*: the semantic event it
follows, and the choice point (``offer``) or task step (``turn``) since then.
Every other choice point takes the default.

* **exact** (the token was made on this Python): a deviation is taken at the
  choice point with its ``(event, offer)``; if that alternative is not offered
  there, or the run passes the point, the replay diverged — with ``strict``
  that raises :class:`harness.NondeterminismError` naming the decision.
* **by turn** (another Python, where asyncio may run a different number of
  internal callbacks between two events): a deviation is taken at the first
  choice point at or after its ``(event, turn)`` where its alternative is
  offered. The digest comparison after the run says whether the replay still
  did the same thing.

Invariant: replaying, exactly, the deviations a run recorded reproduces that
run — same choice points, same choices — because every other choice point of
the run took index 0.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .._errors import NondeterminismError
from ..tokens import Deviation
from ._protocol import Alternative, ChoicePoint, Decision

KeyOf = Callable[[Alternative], tuple[Any, ...]]


class SemanticReplay:
    """Take the deviations of a semantic schedule (see the module docstring)."""

    name = "replay"

    def __init__(
        self,
        steps: Sequence[Deviation],
        *,
        seed: int,
        key_of: KeyOf,
        exact: bool = True,
        strict: bool = True,
    ) -> None:
        self.steps = list(steps)
        self.seed = seed
        self.key_of = key_of
        self.exact = exact
        self.strict = strict
        self._pos = 0

    def __repr__(self) -> str:
        return f"SemanticReplay({len(self.steps)} deviations)"

    def begin(self, seed: int) -> int | None:
        self._pos = 0
        return self.seed

    def choose(self, point: ChoicePoint) -> int:
        if self._pos >= len(self.steps):
            return 0
        step = self.steps[self._pos]
        event, offer, turn = point.anchor
        if self.exact:
            if (event, offer) < (step.event, step.offer):
                return 0
            if (event, offer) == (step.event, step.offer):
                index = self._find(point, step)
                if index:
                    self._pos += 1
                    return index
            return self._diverged(point, step)
        if event < step.event or (event == step.event and turn < step.turn):
            return 0
        index = self._find(point, step)
        if index:
            self._pos += 1
        return index

    def _find(self, point: ChoicePoint, step: Deviation) -> int:
        want = step.key
        for index, alternative in enumerate(point.alternatives):
            if index and self.key_of(alternative) == want:
                return index
        return 0

    def _diverged(self, point: ChoicePoint, step: Deviation) -> int:
        if self.strict:
            raise NondeterminismError(
                f"replay diverged at choice point {point.index + 1}: the schedule's decision "
                f"{self._pos + 1} ({step.describe()}) is not possible there",
                step=point.index + 1,
            )
        self._pos += 1  # lenient: drop it
        return 0

    def end(self, decisions: Sequence[Decision]) -> None:
        if self.strict and self._pos < len(self.steps):
            step = self.steps[self._pos]
            raise NondeterminismError(
                f"replay diverged: the body finished before the schedule's decision "
                f"{self._pos + 1} of {len(self.steps)} ({step.describe()})",
                step=len(decisions) + 1,
            )
