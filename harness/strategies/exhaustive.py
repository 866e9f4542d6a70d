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
Partial-Order Reduction", OOPSLA 2013) — so a bounded search does not use them.

A bounded search prunes by *diamonds* instead, a state cache that is sound
under any bound: when the schedule takes, at two adjacent choice points
(nothing happened between the two steps), two steps ``x`` then ``y`` that
commuted at the first point, the state it reaches is the state of ``y`` then
``x`` from that same point. The next choice point there is keyed by the
decisions before the pair, the pair (unordered), the alternatives it offers
(by identity, in order). If the other order already reached
that key with at least as many deviations left, every schedule below this
point with the deviations left here was already run from the same state with
the same alternatives — they end the same way — so the walk does not
backtrack into it. The first order's subtree is complete by then: the two
orders differ at the pair's first point, and the walk finishes one choice's
subtree there before it takes the next. The current schedule itself still
runs to its end (it was already under way), so only points with deviations
left are worth keying; what a pruned subtree held is counted in
``pruned_points`` (the points whose subtree was skipped). ``reduce=False``
switches both reductions off.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

from .._errors import NondeterminismError
from ._protocol import Alternative, ChoicePoint, Decision, Kind


class Exhaustive:
    """All schedules with at most ``bound`` deviations; ``bound=None``: all, up to commuting."""

    name = "exhaustive"

    def __init__(self, bound: int | None = 2, *, reduce: bool = True) -> None:
        if bound is not None and bound < 0:
            raise ValueError("Exhaustive bound must be >= 0 (or None: every schedule)")
        self.bound = bound
        self.reduce = reduce
        self.exhausted = False
        self.pruned = 0  # complete search: alternatives not taken because they only reorder
        self.pruned_points = 0  # bounded search: choice points whose subtree was covered
        # bounded search, diamonds: key -> (deviations left there, the order that reached it)
        self._diamonds: dict[Hashable, tuple[int, tuple[Hashable, Hashable]]] = {}
        self._choices: list[int] = []  # this schedule's choices so far
        self._used = 0  # deviations taken so far in this schedule
        # the previous choice point, if a step there commuted with the one taken:
        # (index, steps, the alternative taken, the alternatives commuting with it)
        self._last: tuple[int, int, Alternative, tuple[Alternative, ...]] | None = None
        self._pair: tuple[Hashable, tuple[Hashable, Hashable]] | None = None  # awaiting its point
        self._cut: int | None = None  # the first point of this schedule already covered
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
        self._choices = []
        self._used = 0
        self._last = self._pair = self._cut = None
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
        if self.bound is None:
            if not self.reduce or point.commute is None or point.identity is None:
                return max(choice, 0)
            return self._choose_awake(point, choice)
        choice = max(choice, 0)
        if (
            not self.reduce
            or point.commute is None
            or point.identity is None
            or point.steps is None
        ):
            return self._plain(choice)
        self._diamond(point, choice)  # records the choice
        return choice

    def _plain(self, choice: int) -> int:
        """A bounded choice made without diamonds: the pair in progress, if any, is broken."""
        self._last = self._pair = None
        self._choices.append(choice)
        self._used += choice != 0
        return choice

    def _diamond(self, point: ChoicePoint, choice: int) -> None:
        """Bounded search: key the state after two adjacent commuting steps (module docstring).

        Only what a later key needs is computed: nothing once this schedule
        is cut or has no deviation left (every later point has none either),
        the commuting alternatives only after an execution or a delivery (the
        only steps ``commute`` can pair), and identities only for a pair.
        """
        assert self.bound is not None
        left = self.bound - self._used
        self._choices.append(choice)
        self._used += choice != 0
        if left <= 0 or self._cut is not None:
            self._last = self._pair = None
            return
        identity, commute, steps = point.identity, point.commute, point.steps
        assert identity is not None and commute is not None and steps is not None
        pos = len(self._choices) - 1  # this point's index
        alternatives = point.alternatives
        if self._pair is not None:  # the state after the pair: seen before?
            base, order = self._pair
            key = (base, tuple(identity(alt) for alt in alternatives))
            seen = self._diamonds.get(key)
            if seen is not None and seen[1] != order and seen[0] >= left:
                self._cut = pos  # no deviation left here can end differently
                self.pruned_points += 1
                self._last = self._pair = None
                return
            if seen is None or seen[0] < left:
                self._diamonds[key] = (left, order)
            self._pair = None
        taken = alternatives[choice]
        last = self._last
        if last is not None and last[0] == pos - 1 and steps == last[1] + 1:
            taken_id = identity(taken)
            for alt in last[3]:
                if identity(alt) == taken_id:
                    first = identity(last[2])
                    pair = frozenset((first, taken_id))
                    self._pair = ((tuple(self._choices[: pos - 1]), pair), (first, taken_id))
                    break
        commuting: tuple[Alternative, ...] = ()
        if taken.kind is Kind.EXEC or taken.kind is Kind.DELIVER:
            commuting = tuple(
                alt
                for alt in alternatives
                if alt is not taken
                and (alt.kind is Kind.EXEC or alt.kind is Kind.DELIVER)
                and commute(alt, taken)
            )
        self._last = (pos, steps, taken, commuting) if commuting else None

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
        # below a covered point nothing is left to try (see the module docstring)
        limit = len(decisions) if self._cut is None else min(self._cut, len(decisions))
        for i in range(limit - 1, -1, -1):
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
