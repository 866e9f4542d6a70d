"""Exhaustive scheduling: every schedule within ``bound`` deviations, or every schedule.

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

``bound=None`` walks every schedule, and prunes those that only reorder steps
that commute, with sleep sets (Godefroid, "Partial-Order Methods for the
Verification of Concurrent Systems", LNCS 1032, 1996): once the subtree of
step ``a`` at a choice point has been explored, the subtrees of the later
alternatives ``b`` that commute with ``a`` there do not take ``a`` until a
step that does not commute with it has run — every such order was already
covered. Commutation is the engine's conservative judgement
(:meth:`ChoicePoint.commute`, ``harness._alternatives.commute``). Sleep sets
are sound for the complete search only: with a deviation bound, the order
that was kept can need more deviations than the order that was pruned, and a
bounded search would then miss it (Coons, Musuvathi and McKinley, "Bounded
Partial-Order Reduction", OOPSLA 2013) — so a bounded search prunes nothing.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

from .._errors import NondeterminismError
from ._protocol import ChoicePoint, Decision


class Exhaustive:
    """All schedules with at most ``bound`` deviations; ``bound=None``: all, up to commuting."""

    name = "exhaustive"

    def __init__(self, bound: int | None = 2) -> None:
        if bound is not None and bound < 0:
            raise ValueError("Exhaustive bound must be >= 0 (or None: every schedule)")
        self.bound = bound
        self.exhausted = False
        self.pruned = 0  # complete search: alternatives not taken because they only reorder
        self._prefix: list[int] = []
        self._pos = 0
        self._seed: int | None = None
        self._sleep: set[Hashable] = set()  # steps that need not be taken (complete search)
        self._asleep: list[frozenset[int]] = []  # per choice point of this run: sleeping indices

    def __repr__(self) -> str:
        return f"Exhaustive(bound={self.bound})"

    def begin(self, seed: int) -> int | None:
        if self.exhausted:
            return None
        if self._seed is None:
            self._seed = seed  # one fixed sim.random seed: the space is over choices only
        self._pos = 0
        self._sleep = set()
        self._asleep = []
        return self._seed

    def choose(self, point: ChoicePoint) -> int:
        pos = self._pos
        self._pos += 1
        alternatives = point.alternatives
        if pos < len(self._prefix):
            choice = self._prefix[pos]
            if choice >= len(alternatives):
                raise NondeterminismError(
                    f"exhaustive search diverged at choice point {pos + 1}: the body is not "
                    "deterministic for a fixed schedule",
                    step=pos + 1,
                )
        else:
            choice = -1  # the default: the first alternative that is not asleep
        if self.bound is not None or point.commute is None or point.identity is None:
            return max(choice, 0)
        return self._choose_awake(point, choice)

    def _choose_awake(self, point: ChoicePoint, forced: int) -> int:
        """Sleep sets: take ``forced`` (or the first step awake), and carry the sleep set on."""
        alternatives = point.alternatives
        identity, commute = point.identity, point.commute
        assert identity is not None and commute is not None
        keys = [identity(alt) for alt in alternatives]
        asleep = frozenset(i for i, key in enumerate(keys) if key in self._sleep)
        choice = forced
        if choice < 0:
            choice = next((i for i in range(len(keys)) if i not in asleep), 0)
        if choice in asleep:  # every step here only reorders explored ones: carry on plainly
            asleep = frozenset()
        self._asleep.append(asleep)
        taken = alternatives[choice]
        # explored before it here (lower indices), or asleep on arrival: asleep below it
        # while they commute with what was taken
        self._sleep = {
            keys[i]
            for i in range(len(keys))
            if i != choice and (i < choice or i in asleep) and commute(alternatives[i], taken)
        }
        return choice

    def end(self, decisions: Sequence[Decision]) -> None:
        if self.bound is None:
            self._backtrack_all(decisions)
            return
        used = [0] * (len(decisions) + 1)
        for i, (choice, _) in enumerate(decisions):
            used[i + 1] = used[i] + (choice != 0)
        for i in range(len(decisions) - 1, -1, -1):
            choice, count = decisions[i]
            if choice + 1 < count and used[i] + 1 <= self.bound:
                self._prefix = [c for c, _ in decisions[:i]] + [choice + 1]
                return
        self.exhausted = True

    def _backtrack_all(self, decisions: Sequence[Decision]) -> None:
        for i in range(len(decisions) - 1, -1, -1):
            choice, count = decisions[i]
            asleep = self._asleep[i] if i < len(self._asleep) else frozenset()
            following = next((j for j in range(choice + 1, count) if j not in asleep), count)
            self.pruned += sum(1 for j in asleep if choice < j < following)  # skipped for good
            if following < count:
                self._prefix = [c for c, _ in decisions[:i]] + [following]
                return
        self.exhausted = True
