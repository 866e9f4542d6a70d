"""Bounded-exhaustive scheduling: every schedule within ``bound`` deviations.

A *deviation* is taking any alternative other than the default (index 0) at a
choice point — delay/preemption bounding in the spirit of Emmi, Qadeer and
Rakamarić, "Delay-bounded scheduling" (POPL 2011) and Musuvathi & Qadeer's
CHESS. Most concurrency bugs need only one or two deviations, so a small bound
covers them completely.

The search is a stateless depth-first walk over choice sequences: run a
schedule with a forced prefix and defaults after it, then backtrack to the
deepest choice point whose choice can be incremented without exceeding the
bound. Each schedule of the bounded space runs exactly once, provided the body
is deterministic (harness checks that separately). ``exhausted`` becomes true
when the walk is complete.
"""

from __future__ import annotations

from collections.abc import Sequence

from .._errors import NondeterminismError
from ._protocol import ChoicePoint, Decision


class Exhaustive:
    """All schedules with at most ``bound`` deviations (``strategy="exhaustive"``)."""

    name = "exhaustive"

    def __init__(self, bound: int = 2) -> None:
        if bound < 0:
            raise ValueError("Exhaustive bound must be >= 0")
        self.bound = bound
        self.exhausted = False
        self._prefix: list[int] = []
        self._pos = 0
        self._seed: int | None = None

    def __repr__(self) -> str:
        return f"Exhaustive(bound={self.bound})"

    def begin(self, seed: int) -> int | None:
        if self.exhausted:
            return None
        if self._seed is None:
            self._seed = seed  # one fixed sim.random seed: the space is over choices only
        self._pos = 0
        return self._seed

    def choose(self, point: ChoicePoint) -> int:
        pos = self._pos
        self._pos += 1
        if pos < len(self._prefix):
            choice = self._prefix[pos]
            if choice >= len(point.alternatives):
                raise NondeterminismError(
                    f"exhaustive search diverged at choice point {pos + 1}: the body is not "
                    "deterministic for a fixed schedule",
                    step=pos + 1,
                )
            return choice
        return 0

    def end(self, decisions: Sequence[Decision]) -> None:
        used = [0] * (len(decisions) + 1)
        for i, (choice, _) in enumerate(decisions):
            used[i + 1] = used[i] + (choice != 0)
        for i in range(len(decisions) - 1, -1, -1):
            choice, count = decisions[i]
            if choice + 1 < count and used[i] + 1 <= self.bound:
                self._prefix = [c for c, _ in decisions[:i]] + [choice + 1]
                return
        self.exhausted = True
