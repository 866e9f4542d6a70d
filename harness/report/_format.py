"""Number and label formatting shared by the Markdown, HTML and gate renderers.

Every renderer formats a rate the same way, so a number read in the CI
summary can be found again in the HTML page and the gate's output.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .model import Cell, Report


def pct(rate: float) -> str:
    """A rate in [0, 1] as a percentage with about three significant digits.

    ``0.06 -> "6.0 %"``, ``0.020885 -> "2.09 %"``, ``0.001 -> "0.1 %"``,
    ``0.0 -> "0 %"``, ``1.0 -> "100 %"``; anything positive below 0.0001 % shows as ``"<0.0001 %"``.
    """
    value = rate * 100.0
    if value <= 0.0 or math.isnan(value):
        return "0 %"
    if value >= 100.0:
        return "100 %"
    decimals = 1 if value >= 10.0 else min(4, 2 - math.floor(math.log10(value)))
    text = f"{value:.{decimals}f}"
    if float(text) == 0.0:
        return "<0.0001 %"
    text = text.rstrip("0")
    if text.endswith("."):
        text += "0"
    return f"{text} %"


def interval(low: float, high: float) -> str:
    """``"[3.5 %, 10.2 %]"``."""
    return f"[{pct(low)}, {pct(high)}]"


def count(n: int) -> str:
    """An integer with thousands separators: ``2,995``."""
    return f"{n:,}"


def seconds(total: float) -> str:
    """A wall time: ``"0.42 s"``, ``"12.3 s"``, ``"4 min 05 s"``, ``"2 h 03 min"``."""
    if total < 10.0:
        return f"{total:.2f} s"
    if total < 60.0:
        return f"{total:.1f} s"
    whole = round(total)
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"


def cell_id(cell: Cell) -> str:
    """``name/store/mode``: how a cell is named in every output."""
    return f"{cell.name}/{cell.store}/{cell.mode}"


def verdict_line(report: Report) -> str:
    """One sentence: how many cells had failing runs, out of how many runs (no markup).

    Crashed and timed-out runs count as failing; runs that never ran are named.
    """
    cells = report.cells
    if not cells:
        return "No cells: nothing was measured."
    runs = sum(c.runs for c in cells)
    failing_runs = sum(c.failing for c in cells)
    failing = sum(1 for c in cells if c.failing > 0)
    plural = "" if len(cells) == 1 else "s"
    if failing:
        head = f"{failing} of {len(cells)} cell{plural} failed at least once"
    else:
        head = f"No failures in {len(cells)} cell{plural}"
    tail = (
        f"{count(failing_runs)} failing run{'' if failing_runs == 1 else 's'} in {count(runs)} runs"
    )
    notes = []
    crashed = sum(c.crashed for c in cells)
    timed_out = sum(c.timed_out for c in cells)
    never_ran = sum(c.never_ran for c in cells)
    if crashed:
        notes.append(f"{count(crashed)} crashed")
    if timed_out:
        notes.append(f"{count(timed_out)} timed out")
    if never_ran:
        notes.append(f"{count(never_ran)} never ran")
    if getattr(report, "interrupted", False):
        by = getattr(report, "interrupted_by", None)
        notes.append(f"interrupted by {by}" if by else "interrupted")
    extra = f" ({', '.join(notes)})" if notes else ""
    return f"{head}: {tail}{extra}."
