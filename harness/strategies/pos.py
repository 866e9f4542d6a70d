"""Partial Order Sampling.

Yuan, Yang, Gu: "Partial Order Aware Concurrency Sampling", CAV 2018. Every
event gets a random priority; at each choice point the enabled event with the
highest priority happens; after an event happens, the events that *race* with
it are given fresh priorities. Unlike a random walk, an event that was
passed over keeps its (low) priority and stays delayed for a long stretch —
the long delays that some bugs need — while unlike PCT the delays are not
tied to a few change points, so independent choices are sampled evenly.

Events here are ``(kind, actor)`` pairs: "execute the next statement of
app.db#2", "deliver app.db#1's next result", "run the ready callbacks", "deliver
a notification to sub:chat#1". Strategies do not see databases, so races are
approximated conservatively: every statement execution races with every
other one (they may share a database), and every delivery of a result or a
notification races with every other one (they append to the loop's ready
queue, whose order the body sees). Running the loop's callbacks races with
nothing but itself, so a delivery passed over stays delayed while the loop
runs — a long delay costs one low priority, not one choice per step.

Faults and crashes are taken with probability ``fault_rate`` where offered,
as in :class:`~harness.Random` and :class:`~harness.PCT`. Each schedule
depends only on its seed (``parallel_safe``).
"""

from __future__ import annotations

import random as _random
from collections.abc import Sequence

from ._protocol import (
    K_CRASH,
    K_FAULT,
    Alternative,
    ChoicePoint,
    Decision,
    Kind,
)

_FAMILY = {Kind.RUN: "run", Kind.EXEC: "exec", Kind.DELIVER: "queue", Kind.NOTIFY: "queue"}


def _event(alternative: Alternative) -> tuple[str, str]:
    return alternative.kind.value, alternative.actor


def _family(alternative: Alternative) -> str:
    return _FAMILY.get(alternative.kind, "special")


class POS:
    """Partial order sampling (``strategy="pos"``); see the module docstring."""

    name = "pos"
    parallel_safe = True

    def __init__(self, *, fault_rate: float = 0.05) -> None:
        if not 0.0 <= fault_rate <= 1.0:
            raise ValueError("fault_rate must be within [0, 1]")
        self.fault_rate = fault_rate
        self._rng = _random.Random(0)
        self._priority: dict[tuple[str, str], float] = {}

    def __repr__(self) -> str:
        return "POS()"

    def begin(self, seed: int) -> int | None:
        self._rng = _random.Random(seed)
        self._priority = {}
        return seed

    def _priority_of(self, event: tuple[str, str]) -> float:
        priority = self._priority.get(event)
        if priority is None:
            priority = self._priority[event] = self._rng.random()
        return priority

    def choose(self, point: ChoicePoint) -> int:
        rng = self._rng
        alternatives = point.alternatives
        special = [i for i, a in enumerate(alternatives) if a.kind is K_FAULT or a.kind is K_CRASH]
        if special and rng.random() < self.fault_rate:
            return rng.choice(special)
        best, best_priority = -1, -1.0
        for i, alternative in enumerate(alternatives):
            if alternative.kind is K_FAULT or alternative.kind is K_CRASH:
                continue
            priority = self._priority_of(_event(alternative))
            if priority > best_priority:
                best, best_priority = i, priority
        if best < 0:
            return rng.choice(special)
        chosen = alternatives[best]
        family = _family(chosen)
        for alternative in alternatives:  # the events racing with the one that happens
            if _family(alternative) == family:
                self._priority.pop(_event(alternative), None)
        return best

    def end(self, decisions: Sequence[Decision]) -> None:
        return None
