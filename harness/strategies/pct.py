"""Probabilistic Concurrency Testing.

Burckhardt, Kothari, Musuvathi, Nagarakatte: "A Randomized Scheduler with
Probabilistic Guarantees of Finding Bugs", ASPLOS 2010.

Every *actor* (the loop, each connection's worker, each pool job, each
subscriber) gets a random priority when it first appears; at each choice
point the highest-priority actor's alternative is taken. At ``depth - 1``
change points, chosen uniformly among the first ``n`` choice points, the
actor about to run drops to a priority below every initial one. ``n`` is the
number of choice points of the default-order run (:meth:`PCT.calibrate`,
called by ``explore`` before the first schedule), so that every schedule is
a function of its own seed alone — which is what lets ``explore`` run
schedules on several processes and still find exactly what one would. A bug
of depth ``d`` among ``k`` actors and ``n`` steps is found with probability at
least ``1 / (k * n**(d-1))`` per schedule — far better than a random walk for
ordering bugs.

One departure from the paper: faults and crashes are not actors (a fault
"thread" with top priority would strike at every opportunity); they are taken
with probability ``fault_rate`` where offered.
"""

from __future__ import annotations

import random as _random
from collections.abc import Sequence

from ._protocol import K_CRASH, K_FAULT, ChoicePoint, Decision


class PCT:
    """PCT with bug depth ``depth`` (``strategy="pct"``, depth 3)."""

    name = "pct"

    def __init__(self, depth: int = 3, *, fault_rate: float = 0.05) -> None:
        if depth < 1:
            raise ValueError("PCT depth must be at least 1")
        self.depth = depth
        self.fault_rate = fault_rate
        self._longest = 16
        self._rng = _random.Random(0)
        self._priority: dict[str, float] = {}
        self._changes: dict[int, float] = {}

    def __repr__(self) -> str:
        return f"PCT(depth={self.depth})"

    def begin(self, seed: int) -> int | None:
        rng = self._rng = _random.Random(seed)
        self._priority = {}
        points = rng.sample(range(self._longest), min(self.depth - 1, self._longest))
        # change point i lowers the running actor to priority i (below all initial ones)
        self._changes = {p: float(i) for i, p in enumerate(sorted(points))}
        return seed

    def _priority_of(self, actor: str) -> float:
        prio = self._priority.get(actor)
        if prio is None:
            prio = self._priority[actor] = self.depth + self._rng.random()
        return prio

    def choose(self, point: ChoicePoint) -> int:
        rng = self._rng
        alts = point.alternatives
        special = [i for i, a in enumerate(alts) if a.kind is K_FAULT or a.kind is K_CRASH]
        if special and rng.random() < self.fault_rate:
            return rng.choice(special)
        best = self._best(point)
        if best < 0:
            return rng.choice(special)
        low = self._changes.get(point.index)
        if low is not None:
            self._priority[alts[best].actor] = low
            best = self._best(point)
        return best

    def _best(self, point: ChoicePoint) -> int:
        best, best_prio = -1, -1.0
        for i, alt in enumerate(point.alternatives):
            kind = alt.kind
            if kind is K_FAULT or kind is K_CRASH:
                continue
            prio = self._priority_of(alt.actor)
            if prio > best_prio:
                best, best_prio = i, prio
        return best

    parallel_safe = True
    """Each schedule depends only on its seed (and the calibration): it may run anywhere."""

    def calibrate(self, decisions: Sequence[Decision]) -> None:
        """Learn ``n`` from the default-order run (its number of choice points)."""
        self._longest = max(16, len(decisions))

    def end(self, decisions: Sequence[Decision]) -> None:
        return None
