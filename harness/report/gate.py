"""The statistical CI gate (``harness gate REPORT.json --max-rate R``).

Each cell's failure rate is judged by its Wilson interval at the requested
confidence, never by the observed rate alone:

* **fail** — the lower bound is above ``max_rate``: the cell is flaky, and
  that is proven;
* **unproven** — otherwise, the upper bound is above ``max_rate``: there
  were not enough runs to show the rate is below the threshold (the result
  says how many more clean runs would);
* **pass** — the upper bound is at or below ``max_rate``.

Invariants: the verdict of a cell depends only on its counts, ``max_rate``
and ``confidence``; ``passed`` is true exactly when no cell fails (and, with
``strict``, none is unproven) — so a report with no cells passes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from ._format import cell_id, count, interval, pct
from .model import Cell, Report
from .stats import runs_to_prove, wilson


class Verdict(Enum):
    """A cell's gate verdict; the value is the word shown to people."""

    PASS = "pass"
    FAIL = "fail"
    UNPROVEN = "unproven"


@dataclass(frozen=True)
class CellVerdict:
    """The verdict on one cell, with the interval it was based on.

    ``runs_needed`` is set for :attr:`Verdict.UNPROVEN` only: the number of
    additional clean runs that would make it pass (``None`` if no number up
    to 10**9 would).
    """

    cell: Cell
    verdict: Verdict
    low: float
    high: float
    runs_needed: int | None = None


@dataclass(frozen=True)
class GateResult:
    """The gate's verdicts, in the report's cell order."""

    verdicts: tuple[CellVerdict, ...]
    max_rate: float
    confidence: float
    strict: bool = False

    def count(self, verdict: Verdict) -> int:
        """How many cells got ``verdict``."""
        return sum(1 for v in self.verdicts if v.verdict is verdict)

    @property
    def passed(self) -> bool:
        """No cell failed (and, in strict mode, none is unproven)."""
        blocking = {Verdict.FAIL, Verdict.UNPROVEN} if self.strict else {Verdict.FAIL}
        return not any(v.verdict in blocking for v in self.verdicts)

    def render(self) -> str:
        """One line per cell, then a summary line (no trailing newline)."""
        lines = [self._line(v) for v in self.verdicts]
        lines.append(self._summary())
        return "\n".join(lines)

    def _line(self, v: CellVerdict) -> str:
        cell = v.cell
        head = f"{v.verdict.value.upper():<10}{cell_id(cell)}  "
        head += f"{count(cell.failures)}/{count(cell.runs)} failed, "
        limit = pct(self.max_rate)
        if v.verdict is Verdict.FAIL:
            return f"{head}rate {pct(cell.rate)} {interval(v.low, v.high)} > {limit}"
        if v.verdict is Verdict.PASS:
            return f"{head}upper bound {pct(v.high)} <= {limit}"
        if v.runs_needed is None:
            why = "no number of clean runs (up to 10**9) would prove it"
        else:
            plural = "run" if v.runs_needed == 1 else "runs"
            why = f"{count(v.runs_needed)} more clean {plural} would prove it"
        return f"{head}upper bound {pct(v.high)} > {limit}: {why}"

    def _summary(self) -> str:
        word = "PASSED" if self.passed else "FAILED"
        level = f"{self.confidence * 100:g} %"
        counts = (
            f"{self.count(Verdict.FAIL)} failed, {self.count(Verdict.UNPROVEN)} unproven, "
            f"{self.count(Verdict.PASS)} passed"
        )
        if not self.verdicts:
            counts = "no cells to judge"
        mode = ", strict" if self.strict else ""
        return f"gate {word}: {counts} (max rate {pct(self.max_rate)}, {level} confidence{mode})"


def gate(
    report: Report, max_rate: float, confidence: float = 0.95, strict: bool = False
) -> GateResult:
    """Judge every cell of ``report`` against ``max_rate`` (see the module docstring).

    Raises :class:`ValueError` if ``max_rate`` is not in [0, 1] or
    ``confidence`` not in (0, 1).
    """
    if not 0.0 <= max_rate <= 1.0:
        raise ValueError(f"max_rate must be between 0 and 1, got {max_rate}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be strictly between 0 and 1, got {confidence}")
    verdicts = tuple(_judge(c, max_rate, confidence) for c in report.cells)
    return GateResult(verdicts, max_rate, confidence, strict)


def _judge(cell: Cell, max_rate: float, confidence: float) -> CellVerdict:
    low, high = wilson(cell.failures, cell.runs, confidence)
    if low > max_rate:
        return CellVerdict(cell, Verdict.FAIL, low, high)
    if high > max_rate:
        needed = runs_to_prove(cell.failures, cell.runs, max_rate, confidence)
        return CellVerdict(cell, Verdict.UNPROVEN, low, high, needed)
    return CellVerdict(cell, Verdict.PASS, low, high)
