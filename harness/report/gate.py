"""The CI gate (``harness gate REPORT.json --max-rate R``), DESIGN §8 as amended.

A report is judged only when it is whole: an interrupted report, one with a
cell that has fewer runs than planned, one holding only some shards of its
plan, or one merged with ``--force`` is refused (:class:`PartialReport`, exit 2) unless
``allow_partial``. Then each cell gets a verdict:

* a **simulated** cell is a verdict, not a rate. A confirmed failing
  schedule is a proof (it replays): the cell **fails** whatever
  ``max_rate`` says, and the result carries the replay command. A crashed or
  timed-out schedule fails it too. A clean cell **passes** and says what it
  covered (schedules run, distinct schedules, "exhausted within bound B").
* a **real** cell is a flake rate judged by its Wilson interval at
  ``confidence``: **fail** when the lower bound is above ``max_rate``
  (flaky, proven), **unproven** when the upper bound is above it (with how
  many more clean runs would prove it), **pass** otherwise.

Crashed and timed-out runs count as failing runs unless ``allow_crashes``
(then they count neither way: they measured nothing). ``strict`` makes
unproven cells fail the gate.

Invariants: a cell's verdict depends only on its counts, its kind and the
options; ``passed`` is true exactly when no cell fails (and, with
``strict``, none is unproven).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from ._format import cell_id, count, interval, pct
from .model import Cell, Report, ReportError
from .stats import runs_to_prove, wilson


class Verdict(Enum):
    """A cell's gate verdict; the value is the word shown to people."""

    PASS = "pass"
    FAIL = "fail"
    UNPROVEN = "unproven"


class PartialReport(ReportError):
    """The report is interrupted, incomplete or one shard of a plan: not judged."""


@dataclass(frozen=True)
class CellVerdict:
    """The verdict on one cell and why.

    ``low``/``high`` are the Wilson bounds a real cell was judged by (a
    simulated cell's share of failing schedules, for display only);
    ``runs_needed`` (real, unproven) is the number of additional clean runs
    that would make it pass (``None`` if no number up to 10**9 would);
    ``replay`` (simulated, failing) is the command that replays the failure.
    """

    cell: Cell
    verdict: Verdict
    low: float
    high: float
    reason: str
    runs_needed: int | None = None
    replay: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.cell.name,
            "store": self.cell.store,
            "mode": self.cell.mode,
            "verdict": self.verdict.value,
            "reason": self.reason,
            "runs_needed": self.runs_needed,
            "replay": self.replay,
        }


@dataclass(frozen=True)
class GateResult:
    """The gate's verdicts, in the report's cell order."""

    verdicts: tuple[CellVerdict, ...]
    max_rate: float
    confidence: float
    strict: bool = False
    allow_crashes: bool = False
    allow_partial: bool = False

    def count(self, verdict: Verdict) -> int:
        """How many cells got ``verdict``."""
        return sum(1 for v in self.verdicts if v.verdict is verdict)

    @property
    def passed(self) -> bool:
        """No cell failed (and, in strict mode, none is unproven)."""
        blocking = {Verdict.FAIL, Verdict.UNPROVEN} if self.strict else {Verdict.FAIL}
        return not any(v.verdict in blocking for v in self.verdicts)

    def to_json(self) -> dict[str, Any]:
        """The report's ``gate`` field."""
        return {
            "max_rate": self.max_rate,
            "confidence": self.confidence,
            "strict": self.strict,
            "allow_crashes": self.allow_crashes,
            "allow_partial": self.allow_partial,
            "passed": self.passed,
            "cells": [v.to_json() for v in self.verdicts],
        }

    def render(self) -> str:
        """One line per cell (plus the replay command of a failing simulated cell), then a
        summary line (no trailing newline)."""
        lines = []
        for v in self.verdicts:
            lines.append(f"{v.verdict.value.upper():<10}{cell_id(v.cell)}  {v.reason}")
            if v.replay:
                lines.append(f"{'':<10}replay: {v.replay}")
        lines.append(self._summary())
        return "\n".join(lines)

    def _summary(self) -> str:
        word = "PASSED" if self.passed else "FAILED"
        counts = (
            f"{self.count(Verdict.FAIL)} failed, {self.count(Verdict.UNPROVEN)} unproven, "
            f"{self.count(Verdict.PASS)} passed"
        )
        if not self.verdicts:
            counts = "no cells to judge"
        options = [f"max rate {pct(self.max_rate)} for real cells"]
        options.append(f"{self.confidence * 100:g} % confidence")
        options += [name for name, on in self._flags() if on]
        return f"gate {word}: {counts} ({', '.join(options)})"

    def _flags(self) -> list[tuple[str, bool]]:
        return [
            ("strict", self.strict),
            ("crashes allowed", self.allow_crashes),
            ("partial report", self.allow_partial),
        ]


def refusal(report: Report) -> str | None:
    """Why ``report`` must not be judged as a whole (one line), or ``None``."""
    if report.interrupted:
        by = f" by {report.interrupted_by}" if report.interrupted_by else ""
        missing = report.never_ran
        return (
            f"the report was interrupted{by}: {count(missing)} of {count(report.planned)} "
            f"planned runs never ran"
        )
    forced = report.meta.get("merge_forced")
    if isinstance(forced, list) and forced:
        return f"the report was merged with --force ({forced[0]}): its counts need not add up"
    plan = report.plan
    if plan is not None and plan.partial:
        assert plan.shard is not None
        held = ", ".join(f"{i}/{plan.shard['count']}" for i in plan.shard_indices)
        return (
            f"the report holds shard {held} of a sharded plan: merge every shard with "
            f"'harness report merge' first"
        )
    short = [c for c in report.cells if c.never_ran]
    if short:
        c = short[0]
        more = f" (and {len(short) - 1} more cells)" if len(short) > 1 else ""
        return (
            f"cell {cell_id(c)} has {count(c.runs)} of {count(c.planned or 0)} planned runs: "
            f"{count(c.never_ran)} never ran{more}"
        )
    return None


def gate(
    report: Report,
    max_rate: float,
    confidence: float = 0.95,
    strict: bool = False,
    *,
    allow_crashes: bool = False,
    allow_partial: bool = False,
) -> GateResult:
    """Judge every cell of ``report`` (see the module docstring).

    Raises :class:`PartialReport` for a report that is not whole (unless
    ``allow_partial``) and :class:`ValueError` if ``max_rate`` is not in
    [0, 1] or ``confidence`` not in (0, 1).
    """
    if not 0.0 <= max_rate <= 1.0:
        raise ValueError(f"max_rate must be between 0 and 1, got {max_rate}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be strictly between 0 and 1, got {confidence}")
    if not allow_partial:
        why = refusal(report)
        if why is not None:
            raise PartialReport(f"{why}; judge what is there with --allow-partial")
    verdicts = tuple(
        _judge_simulated(c, allow_crashes)
        if c.simulated
        else _judge_real(c, max_rate, confidence, allow_crashes)
        for c in report.cells
    )
    return GateResult(verdicts, max_rate, confidence, strict, allow_crashes, allow_partial)


def _lost(cell: Cell) -> str:
    parts = []
    if cell.crashed:
        parts.append(f"{count(cell.crashed)} crashed")
    if cell.timed_out:
        parts.append(f"{count(cell.timed_out)} timed out")
    return ", ".join(parts)


def coverage_text(cell: Cell) -> str:
    """What a clean simulated cell covered, in words."""
    cov = cell.coverage or {}
    schedules = int(cov.get("schedules") or cell.runs)
    plural = "" if schedules == 1 else "s"
    if cov.get("exhausted"):
        bound = cov.get("bound")
        within = f" within bound {bound}" if bound is not None else ""
        return (
            f"exhausted{within}: every schedule of the bounded space passes "
            f"({count(schedules)} schedule{plural})"
        )
    distinct = cov.get("distinct")
    extra = [f"{count(int(distinct))} distinct"] if isinstance(distinct, int) else []
    if cov.get("strategy"):
        extra.append(f"strategy {cov['strategy']}")
    detail = f" ({', '.join(extra)})" if extra else ""
    return f"no failing schedule in {count(schedules)} schedule{plural}{detail}"


def _judge_simulated(cell: Cell, allow_crashes: bool) -> CellVerdict:
    low, high = wilson(cell.failing, cell.runs)
    if cell.failures:
        share = f"{count(cell.failures)} of {count(cell.runs)} schedules fail"
        command = next(
            (e["command"] for e in cell.examples if isinstance(e.get("command"), str)), None
        )
        return CellVerdict(
            cell, Verdict.FAIL, low, high, f"confirmed failing schedule ({share})", replay=command
        )
    if (cell.crashed or cell.timed_out) and not allow_crashes:
        reason = f"schedules that did not finish: {_lost(cell)} of {count(cell.runs)}"
        return CellVerdict(cell, Verdict.FAIL, low, high, reason)
    if cell.runs - (cell.crashed + cell.timed_out) <= 0:
        return CellVerdict(cell, Verdict.UNPROVEN, low, high, "no schedule ran to the end")
    return CellVerdict(cell, Verdict.PASS, low, high, coverage_text(cell))


def _judge_real(cell: Cell, max_rate: float, confidence: float, allow_crashes: bool) -> CellVerdict:
    if allow_crashes:
        failing, runs = cell.failures, cell.runs - cell.crashed - cell.timed_out
    else:
        failing, runs = cell.failing, cell.runs
    low, high = wilson(failing, runs, confidence)
    head = f"{count(failing)}/{count(runs)} failing"
    lost = _lost(cell)
    if lost:
        head += f" ({lost}{', not counted' if allow_crashes else ''})"
    limit = pct(max_rate)
    if runs and low > max_rate:
        rate = pct(failing / runs)
        return CellVerdict(
            cell, Verdict.FAIL, low, high, f"{head}, rate {rate} {interval(low, high)} > {limit}"
        )
    if high > max_rate:
        needed = runs_to_prove(failing, runs, max_rate, confidence)
        if needed is None:
            why = "no number of clean runs (up to 10**9) would prove it"
        else:
            plural = "run" if needed == 1 else "runs"
            why = f"{count(needed)} more clean {plural} would prove it"
        reason = f"{head}, upper bound {pct(high)} > {limit}: {why}"
        return CellVerdict(cell, Verdict.UNPROVEN, low, high, reason, runs_needed=needed)
    return CellVerdict(cell, Verdict.PASS, low, high, f"{head}, upper bound {pct(high)} <= {limit}")
