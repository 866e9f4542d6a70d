"""A portfolio: several strategies, taking turns schedule by schedule.

No single strategy is best for every bug: PCT finds ordering bugs of small
depth among few actors, and long delays of one actor; a random walk finds
bugs that need many small deviations spread out; partial order sampling
finds races between independent choices evenly. The portfolio runs each
schedule with one member, chosen by the schedule's seed, so over a budget
each member gets its share and every schedule still depends only on its seed
(``parallel_safe``). Like Coyote's portfolio, it trades a constant factor on
the bugs one member finds best for not missing the bugs that member misses.

Members (the default): PCT at depths 2, 3 and 5, a random walk, and POS.
"""

from __future__ import annotations

from collections.abc import Sequence

from ._protocol import ChoicePoint, Decision, Strategy
from .pct import PCT
from .pos import POS
from .random import Random


class Portfolio:
    """Members take turns by seed (``strategy="portfolio"``); see the module docstring."""

    name = "portfolio"
    parallel_safe = True

    def __init__(self, members: Sequence[Strategy] | None = None) -> None:
        self.members: list[Strategy] = (
            list(members)
            if members is not None
            else [PCT(depth=3), Random(), PCT(depth=2), POS(), PCT(depth=5)]
        )
        if not self.members:
            raise ValueError("a portfolio needs at least one strategy")
        for member in self.members:
            if not getattr(member, "parallel_safe", False):
                raise ValueError(f"{member!r} is not parallel_safe: it cannot take turns by seed")
        self._current: Strategy = self.members[0]

    def __repr__(self) -> str:
        return f"Portfolio({', '.join(map(repr, self.members))})"

    @property
    def current(self) -> Strategy:
        """The member running the current schedule."""
        return self._current

    def calibrate(self, decisions: Sequence[Decision]) -> None:
        for member in self.members:
            calibrate = getattr(member, "calibrate", None)
            if calibrate is not None:
                calibrate(decisions)

    def begin(self, seed: int) -> int | None:
        self._current = self.members[seed % len(self.members)]
        return self._current.begin(seed)

    def choose(self, point: ChoicePoint) -> int:
        return self._current.choose(point)

    def end(self, decisions: Sequence[Decision]) -> None:
        self._current.end(decisions)
