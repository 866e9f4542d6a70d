"""``harness stress --until-decided --max-rate R``: spend runs only where they decide.

A stress run normally gives every cell its whole budget (``--runs``). With
``--until-decided`` it runs in rounds and, after each round, stops every
cell whose gate verdict is already certain:

* a **real** cell is decided when its Wilson interval lies wholly on one
  side of ``R``: lower bound above ``R`` (flaky, proven) or upper bound at
  or below ``R`` (proven below ``R``);
* a **simulated** cell is decided by its first confirmed failing schedule
  (a proof); a clean one runs its whole budget (its coverage is the point).

The next round takes each undecided cell at least to twice its runs and, for
a cell with no failure yet, straight to the runs that could prove it
(``runs_to_prove``), within the budget. Looking at the counts after every
round is *optional stopping*, which would inflate the error rate of a
fixed-confidence interval; each look therefore uses the stricter confidence
``1 - (1 - C) / L``, where ``L`` bounds the number of rounds (targets at
least double), so the chance that any look decides wrongly stays below
``1 - C`` (a union bound). A cell decided this way gets the same verdict from
``harness gate`` at confidence ``C``.

Runs are numbered as in the fixed plan and seeded by their index, so an
``--until-decided`` run measures a prefix of what the fixed run would.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..report.stats import runs_to_prove, wilson
from ._spec import REAL_CHUNK, SIM_CHUNK

FIRST_REAL = 10 * REAL_CHUNK
FIRST_SIM = SIM_CHUNK


@dataclass(frozen=True)
class Decider:
    """Per-round decisions of an ``--until-decided`` run (see the module docstring)."""

    max_rate: float
    confidence: float
    budget: int

    @property
    def looks(self) -> int:
        """An upper bound on the number of rounds (targets at least double)."""
        return max(1, math.ceil(math.log2(max(self.budget / FIRST_REAL, 1.0))) + 1)

    @property
    def look_confidence(self) -> float:
        return 1.0 - (1.0 - self.confidence) / self.looks

    def first_target(self, mode: str) -> int:
        return min(self.budget, FIRST_SIM if mode == "sim" else FIRST_REAL)

    def verdict(self, mode: str, failing: int, runs: int) -> str | None:
        """``"fail"``, ``"pass"`` or ``None`` (not decided yet)."""
        if mode == "sim":
            return "fail" if failing else None
        if runs == 0:
            return None
        low, high = wilson(failing, runs, self.look_confidence)
        if low > self.max_rate:
            return "fail"
        if high <= self.max_rate:
            return "pass"
        return None

    def next_target(self, mode: str, failing: int, runs: int) -> int:
        """How many runs the cell should have after the next round (within the budget)."""
        target = 2 * max(runs, 1)
        if mode != "sim" and failing == 0:
            needed = runs_to_prove(0, runs, self.max_rate, self.look_confidence)
            if needed is not None:
                target = max(target, runs + needed)
        return min(self.budget, target)


def default_budget(max_rate: float, confidence: float) -> int:
    """Twice the clean runs that prove ``max_rate`` at a look's confidence (at least 100)."""
    guess = Decider(max_rate, confidence, 10**6)
    for _ in range(3):  # the budget decides the number of looks and back: settle it
        needed = runs_to_prove(0, 0, max_rate, guess.look_confidence) or 10**6
        guess = Decider(max_rate, confidence, max(100, min(10**6, 2 * needed)))
    return guess.budget
