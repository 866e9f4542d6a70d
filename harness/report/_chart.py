"""The chart of real cells' flake rates, each with its Wilson 95 % interval (HTML and CSS).

One row per real cell: its name, a track on a square-root scale (0.1 % and
50 % both visible), the interval as a capped bar, the observed rate as a
dot, and ``failed/runs · rate``; the gate's ``max_rate`` is a dashed line
when the report was gated. Rows are CSS grids whose positions are
percentages of the track, so the chart is as wide as the page and never
scrolls inside its box: every row's dot is on screen at any width (below
640 px the name and numbers go above the track). Tooltips are ``title``
attributes; no script.

Simulated cells are not charted: they are verdicts, not rates.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from ._format import count, interval, pct
from ._view import CellView, Outcome

TICKS = (
    (0.001, "0.1 %", True),
    (0.01, "1 %", False),
    (0.05, "5 %", True),
    (0.1, "10 %", False),
    (0.25, "25 %", False),
    (0.5, "50 %", False),
    (1.0, "100 %", False),
)
"""``(rate, label, minor)``; minor ticks are hidden on narrow screens, where labels collide."""

TONE = {
    Outcome.UNEXPECTED: "o-unexpected",
    Outcome.EXPECTED: "o-expected",
    Outcome.PASSED: "o-passed",
    Outcome.MISSED: "o-missed",
    Outcome.UNSEEN: "o-unseen",
    Outcome.NOT_RUN: "o-notrun",
}


def x(rate: float) -> float:
    """The position of ``rate`` along the track, in percent (square-root scale)."""
    return math.sqrt(min(max(rate, 0.0), 1.0)) * 100.0


def rate_chart(cells: Sequence[CellView], max_rate: float | None = None) -> str:
    """The chart of ``cells`` (real cells), or ``""`` when there are none."""
    if not cells:
        return ""
    grid = "".join(f'<i class="grid" style="left:{x(rate):.3f}%"></i>' for rate, _, _ in TICKS)
    if max_rate is not None:
        grid += f'<i class="limit" style="left:{x(max_rate):.3f}%"></i>'
    labels = "".join(
        f'<span class="{"minor" if minor else ""}{" end" if rate >= 1.0 else ""}" '
        f'style="left:{x(rate):.3f}%">{label}</span>'
        for rate, label, minor in TICKS
    )
    axis = f'<div class="axis"><span>rate (√ scale)</span><div class="ticks">{labels}</div></div>'
    rows = "".join(_row(cell, grid) for cell in cells)
    legend = (
        '<div class="legend">'
        '<span><i class="sw o-unexpected"></i>unexpected failures</span>'
        '<span><i class="sw o-expected"></i>expected failures (buggy variant)</span>'
        '<span><i class="sw o-passed"></i>no failures</span>'
        '<span><i class="sw o-notrun"></i>no runs</span>'
        "<span>dot = observed rate · bar = Wilson 95 % interval</span>"
        + (
            f'<span><i class="limitkey"></i>gate max rate {escape(pct(max_rate))}</span>'
            if max_rate is not None
            else ""
        )
        + "</div>"
    )
    label = "flake rate of each real cell with its Wilson 95 % interval"
    return f'{legend}<div class="chart" role="figure" aria-label="{label}">{axis}{rows}</div>'


def _row(cell: CellView, grid: str) -> str:
    failing = cell.failing
    if cell.runs == 0:
        tip = f"{cell.id}: no runs"
        note = "no runs"
        marks = '<i class="ci none" style="left:0%;width:100%"></i>'
    else:
        tip = (
            f"{cell.id}: {count(failing)} of {count(cell.runs)} runs failed, rate "
            f"{pct(cell.rate)}, Wilson 95 % interval {interval(cell.ci_low, cell.ci_high)}"
        )
        note = f"{count(failing)}/{count(cell.runs)} · {pct(cell.rate)}"
        low, high = x(cell.ci_low), x(cell.ci_high)
        marks = (
            f'<i class="ci" style="left:{low:.3f}%;width:{max(high - low, 0.0):.3f}%"></i>'
            f'<i class="dot" style="left:{x(cell.rate):.3f}%"></i>'
        )
    return (
        f'<div class="row {TONE[cell.outcome]}" title="{escape(tip)}">'
        f'<div class="label">{escape(cell.label)}</div>'
        f'<div class="track">{grid}{marks}</div><div class="note">{escape(note)}</div></div>'
    )
