"""The compact rate table printed at the end of a stress run (CLI and pytest plugin)."""

from __future__ import annotations

from collections.abc import Sequence

from ..report import Cell
from ..report._format import count, interval, pct, verdict_line


def _note(cell: Cell) -> str:
    notes = []
    if cell.timed_out:
        notes.append(f"{count(cell.timed_out)} timed out")
    if cell.crashed:
        notes.append(f"{count(cell.crashed)} lost to crashes")
    if cell.failures and cell.errors:
        top = sorted(cell.errors.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
        notes.append(top)
    return ", ".join(notes)


def rate_table(cells: Sequence[Cell], *, width: int = 0) -> str:
    """One aligned line per cell: name, store, mode, runs, failures, rate, 95 % CI, notes."""
    rows = [("cell", "runs", "failures", "rate", "95 % CI", "")]
    for c in cells:
        name = c.name if c.store == "-" else f"{c.name}/{c.store}"
        rows.append(
            (
                f"{name} [{c.mode}]",
                count(c.runs),
                count(c.failures),
                pct(c.rate) if c.runs else "—",
                interval(c.ci_low, c.ci_high),
                _note(c),
            )
        )
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
