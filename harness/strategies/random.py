"""Uniform random scheduling: the baseline every other strategy must beat.

At each choice point pick uniformly among the ordinary alternatives (run the
next callback, execute / deliver an operation, deliver a notification).
Faults and crashes are taken with probability ``fault_rate`` when offered:
they are rare in the real world, and taking them uniformly would drown every
other order.

Invariant: all draws come from a ``random.Random`` seeded by ``begin``, so the
same seeds give the same schedules in any process.
"""

from __future__ import annotations

import random as _random
from collections.abc import Sequence

from ._protocol import K_CRASH, K_FAULT, ChoicePoint, Decision


class Random:
    """Random walk over choice points (``strategy="random"``)."""

    name = "random"

    def __init__(self, *, fault_rate: float = 0.05) -> None:
        if not 0.0 <= fault_rate <= 1.0:
            raise ValueError("fault_rate must be within [0, 1]")
        self.fault_rate = fault_rate
        self._rng = _random.Random(0)

    def __repr__(self) -> str:
        return f"Random(fault_rate={self.fault_rate})"

    def begin(self, seed: int) -> int | None:
        self._rng.seed(seed)  # the state Random(seed) starts in
        return seed

    def choose(self, point: ChoicePoint) -> int:
        rng = self._rng
        ordinary: list[int] = []
        special: list[int] = []
        for i, alt in enumerate(point.alternatives):
            kind = alt.kind
            if kind is K_FAULT or kind is K_CRASH:
                special.append(i)
            else:
                ordinary.append(i)
        if special and (not ordinary or rng.random() < self.fault_rate):
            return rng.choice(special)
        return rng.choice(ordinary)

    parallel_safe = True
    """Each schedule depends only on its seed: it may run on any process."""

    def end(self, decisions: Sequence[Decision]) -> None:
        return None
