"""The compact table printed at the end of a stress run (CLI and pytest plugin).

A simulated cell shows the share of its schedules that fail (a verdict: any
failing schedule is a proof), never a flake rate; a real cell shows its
flake rate with its Wilson 95 % interval. Every cell accounts for its plan:
runs ended out of runs planned, and how the failing ones ended.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..report import Cell
from ..report._format import count, interval, pct, verdict_line


def _note(cell: Cell) -> str:
    notes = []
    if cell.crashed:
        notes.append(f"{count(cell.crashed)} crashed")
    if cell.timed_out:
        notes.append(f"{count(cell.timed_out)} timed out")
    if cell.never_ran:
        notes.append(f"{count(cell.never_ran)} never ran")
    if cell.stopped == "decided":
        notes.append("stopped: decided")
    elif cell.stopped == "first-failure":
        notes.append("stopped at the first failure")
    if cell.failures and cell.errors:
        notes.append(sorted(cell.errors.items(), key=lambda kv: (-kv[1], kv[0]))[0][0])
    if cell.expected == "fail" and cell.failing:
        notes.append("expected")
    return ", ".join(notes)


def _figure(cell: Cell) -> tuple[str, str]:
    if not cell.runs:
        return "—", ""
    if cell.simulated:
        return f"{pct(cell.rate)} of schedules", ""
    return pct(cell.rate), interval(cell.ci_low, cell.ci_high)


def rate_table(cells: Sequence[Cell], *, width: int = 0) -> str:
    """One aligned line per cell: name, mode, runs/planned, failing, figure, 95 % CI, notes."""
    rows = [("cell", "runs", "failing", "rate", "95 % CI (real)", "")]
    for c in cells:
        name = c.name if c.store == "-" else f"{c.name}/{c.store}"
        runs = count(c.runs) if not c.never_ran else f"{count(c.runs)}/{count(c.planned or 0)}"
        figure, ci = _figure(c)
        rows.append((f"{name} [{c.mode}]", runs, count(c.failing), figure, ci, _note(c)))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    if width:
        widths[0] = min(widths[0], max(24, width - sum(widths[1:]) - 12))
    lines = []
    for r in rows:
        first = r[0] if len(r[0]) <= widths[0] else "…" + r[0][-(widths[0] - 1) :]
        line = (
            f"{first:<{widths[0]}}  {r[1]:>{widths[1]}}  {r[2]:>{widths[2]}}  "
            f"{r[3]:>{widths[3]}}  {r[4]:<{widths[4]}}  {r[5]}"
        )
        lines.append(line.rstrip())
    return "\n".join(lines)


def summary(cells: Sequence[Cell]) -> str:
    """The verdict sentence, then the table."""
    from ..report import Report

    return f"{verdict_line(Report(cells=list(cells)))}\n\n{rate_table(cells)}"
