"""The self-contained HTML report: one page, inline CSS and SVG, no scripts.

Sections, top to bottom: a header (verdict, summary counts, meta), a chart
of every cell's rate with its Wilson 95 % interval, the table of cells (the
same columns as the Markdown), and up to :data:`MAX_EXAMPLES` example
failures, each with its error, replay command, swimlane and event table.

Invariants: the page references no external resource (it opens offline,
as a CI artifact); every piece of report text passes through
:func:`html.escape`; tooltips are SVG ``<title>`` elements, so nothing
needs JavaScript; any report renders — no cells, cells with no runs,
examples with hundreds of events (the swimlane widens and scrolls).
"""

from __future__ import annotations

import json
import math
from html import escape
from typing import Any

from . import _swimlane
from ._format import cell_id, count, interval, pct, seconds, verdict_line
from .model import Cell, Report

MAX_EXAMPLES = 3
FAIL_COLOR = "#c62828"
CLEAN_COLOR = "#2e7d32"
EMPTY_COLOR = "#9e9e9e"
_TICKS = (
    (0.0, ""),
    (0.001, "0.1 %"),
    (0.01, "1 %"),
    (0.05, "5 %"),
    (0.1, "10 %"),
    (0.25, "25 %"),
    (0.5, "50 %"),
    (1.0, "100 %"),
)
_NUM, _FAILING = ' class="num"', ' class="failing"'
_LABEL_W, _PLOT_X, _PLOT_W, _CHART_W, _ROW_H, _AXIS_H = 330, 346, 640, 1200, 24, 28

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2328;
 margin:24px auto;max-width:1240px;padding:0 18px}
h1{font-size:24px;margin:0 0 6px}h2{font-size:18px;margin:30px 0 10px;padding-bottom:4px;
 border-bottom:1px solid #d8dee4}h3{font-size:15px;margin:22px 0 8px}
.verdict{font-size:16px;font-weight:600;margin:4px 0 12px}.verdict.bad{color:#b71c1c}
.verdict.good{color:#1b5e20}.muted{color:#656d76}
.stats{display:flex;flex-wrap:wrap;gap:10px;margin:10px 0 14px}
.stat{border:1px solid #d8dee4;border-radius:8px;padding:6px 14px;min-width:84px}
.stat b{display:block;font-size:20px}.stat.bad b{color:#b71c1c}
table{border-collapse:collapse;font-size:13px}th{background:#f6f8fa;text-align:left}
th,td{border-bottom:1px solid #e5e8eb;padding:4px 10px;vertical-align:top}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.name{white-space:nowrap}
tr.failing td:first-child{box-shadow:inset 3px 0 #c62828}
table.meta td:first-child{color:#656d76;white-space:nowrap}
code,pre,table.events,svg text.lane,svg text.tick,svg text.num{
 font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"DejaVu Sans Mono",monospace}
code,pre{font-size:12.5px}pre{background:#f6f8fa;border:1px solid #d8dee4;border-radius:6px;
 padding:8px 12px;white-space:pre-wrap;word-break:break-word;margin:4px 0 10px}
.scroll{overflow-x:auto;border:1px solid #d8dee4;border-radius:6px;margin:8px 0}
svg{display:block}svg text{font-family:system-ui,sans-serif;font-size:12px;fill:#1f2328}
svg text.tick{font-size:11px;fill:#57606a}svg text.lane{font-size:12px}
svg text.num{font-size:11.5px}svg text.dev{font-size:11px;fill:#e65100;font-weight:600}
.legend{font-size:12px;margin:6px 0}.legend span{display:inline-block;margin:0 14px 4px 0}
.sw{display:inline-block;width:10px;height:10px;border-radius:50%;margin-right:5px;
 vertical-align:-1px}.sw.dev{background:#ffe082;border:2.5px solid #111;width:7px;height:7px}
.legend .link{display:inline-block;width:22px;border-top:1.5px solid #546e7a;margin-right:5px;
 vertical-align:3px}.legend .lanekey{display:inline-block;width:22px;height:10px;
 background:#e1eaf7;border:1px solid #c5d3e8;margin-right:5px;vertical-align:-1px}
table.events{font-size:12px}table.events td{padding:1px 10px;border-bottom:1px solid #f0f0f0}
table.events tr.dev td{background:#fff3cd}.devmark{color:#e65100}
.lanes{display:flex;width:fit-content;max-width:100%;border:1px solid #d8dee4;border-radius:6px;
 margin:8px 0;overflow:hidden}
.lanes>svg{flex:none}.lanes-plot{overflow-x:auto;flex:1 1 auto;min-width:0}
details summary{cursor:pointer;color:#57606a;margin:6px 0}
"""


def render_html(report: Report) -> str:
    """The whole page as one string (UTF-8, no external references)."""
    title = "Flake-rate report"
    body = [
        _header(report),
        "<h2>Failure rates</h2>",
        _chart(report.cells),
        "<h2>Cells</h2>",
        _table(report.cells),
        _examples(report.cells),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


# ---------------------------------------------------------------- header
def _header(report: Report) -> str:
    cells = report.cells
    failing = sum(1 for c in cells if c.failures)
    tone = "bad" if failing else "good"
    stats = [
        ("cells", count(len(cells)), False),
        ("failing cells", count(failing), failing > 0),
        ("runs", count(sum(c.runs for c in cells)), False),
        ("failures", count(sum(c.failures for c in cells)), failing > 0),
        ("crashed", count(sum(c.crashed for c in cells)), any(c.crashed for c in cells)),
        ("timed out", count(sum(c.timed_out for c in cells)), any(c.timed_out for c in cells)),
        ("worker time", seconds(sum(c.wall_time for c in cells)), False),
    ]
    boxes = "".join(
        f'<div class="stat{" bad" if bad else ""}"><b>{escape(value)}</b>{escape(label)}</div>'
        for label, value, bad in stats
    )
    return (
        "<h1>Flake-rate report</h1>\n"
        f'<p class="muted">created {escape(report.created)} · schema '
        f"<code>{escape(report.schema)}</code></p>\n"
        f'<p class="verdict {tone}">{escape(verdict_line(report))}</p>\n'
        f'<div class="stats">{boxes}</div>\n{_meta(report.meta)}'
    )


def _meta(meta: dict[str, Any]) -> str:
    if not meta:
        return ""
    rows = []
    for key, value in meta.items():
        if key == "merged_from" and isinstance(value, list):
            shown = f"{len(value)} reports"
        elif isinstance(value, str):
            shown = value
        else:
            shown = json.dumps(value, ensure_ascii=False, default=str)
        if len(shown) > 300:
            shown = shown[:299] + "…"
        rows.append(f"<tr><td>{escape(str(key))}</td><td><code>{escape(shown)}</code></td></tr>")
    return f'<table class="meta"><tbody>{"".join(rows)}</tbody></table>'


# ----------------------------------------------------------------- chart
def _x(rate: float) -> float:
    """Square-root scale: 0.1 % and 50 % are both visible on one axis."""
    return _PLOT_X + math.sqrt(min(max(rate, 0.0), 1.0)) * _PLOT_W


def _chart(cells: list[Cell]) -> str:
    if not cells:
        return '<p class="muted">No cells to chart.</p>'
    top = _AXIS_H
    bottom = top + _ROW_H * len(cells)
    height = bottom + _AXIS_H
    out = [
        f'<svg class="chart" width="{_CHART_W}" height="{height}" '
        f'viewBox="0 0 {_CHART_W} {height}" role="img" '
        'aria-label="failure rate of each cell with its Wilson 95 % interval">'
    ]
    for i in range(len(cells)):
        if i % 2 == 0:
            out.append(
                f'<rect x="0" y="{top + i * _ROW_H}" width="{_CHART_W}" '
                f'height="{_ROW_H}" fill="#f6f8fa"/>'
            )
    for rate, label in _TICKS:
        x = _x(rate)
        out.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{bottom}" stroke="#d0d7de"/>')
        if rate == 0.0:  # the axis starts at 0; a "0" label would collide with "0.1 %"
            continue
        out.extend(
            f'<text x="{x:.1f}" y="{ty}" text-anchor="middle" class="tick">{label}</text>'
            for ty in (top - 9, bottom + 18)
        )
    out.append(
        f'<text x="{_LABEL_W}" y="{top - 9}" text-anchor="end" class="tick">'
        "rate (square-root scale)</text>"
    )
    out.extend(_chart_row(cell, top + i * _ROW_H) for i, cell in enumerate(cells))
    out.append("</svg>")
    legend = (
        '<div class="legend">'
        f'<span><i class="sw" style="background:{FAIL_COLOR}"></i>failed at least once</span>'
        f'<span><i class="sw" style="background:{CLEAN_COLOR}"></i>no failures</span>'
        f'<span><i class="sw" style="background:{EMPTY_COLOR}"></i>no runs</span>'
        "<span>dot = observed rate · bar = Wilson 95 % interval</span></div>"
    )
    return f'{legend}<div class="scroll">{"".join(out)}</div>'


def _chart_row(cell: Cell, top: int) -> str:
    cy = top + _ROW_H / 2
    name = cell_id(cell)
    shown = name if len(name) <= 46 else name[:45] + "…"
    low, high = cell.ci_low, cell.ci_high
    if cell.runs == 0:
        tip = f"{name}: no runs"
        color, note = EMPTY_COLOR, "no runs"
    else:
        tip = (
            f"{name}: {count(cell.failures)}/{count(cell.runs)} failed, rate {pct(cell.rate)}, "
            f"95 % CI {interval(low, high)}"
        )
        color = FAIL_COLOR if cell.failures else CLEAN_COLOR
        note = f"{count(cell.failures)}/{count(cell.runs)} · {pct(cell.rate)}"
    x0, x1 = _x(low), _x(high)
    dash = ' stroke-dasharray="4 3"' if cell.runs == 0 else ""
    parts = [
        f"<g><title>{escape(tip)}</title>",
        f'<rect x="0" y="{top}" width="{_CHART_W}" height="{_ROW_H}" fill="transparent"/>',
        f'<text x="{_LABEL_W}" y="{cy + 4:.1f}" text-anchor="end">{escape(shown)}</text>',
        f'<line x1="{x0:.1f}" y1="{cy:.1f}" x2="{x1:.1f}" y2="{cy:.1f}" stroke="{color}" '
        f'stroke-width="2.5"{dash}/>',
    ]
    if cell.runs:
        parts += [
            f'<line x1="{x:.1f}" y1="{cy - 6:.1f}" x2="{x:.1f}" y2="{cy + 6:.1f}" '
            f'stroke="{color}" stroke-width="2"/>'
            for x in (x0, x1)
        ]
        parts.append(
            f'<circle cx="{_x(cell.rate):.1f}" cy="{cy:.1f}" r="5" fill="{color}" '
            'stroke="#ffffff" stroke-width="1.5"/>'
        )
    parts.append(
        f'<text x="{_PLOT_X + _PLOT_W + 24}" y="{cy + 4:.1f}" class="num">{escape(note)}</text></g>'
    )
    return "".join(parts)


# ----------------------------------------------------------------- table
def _table(cells: list[Cell]) -> str:
    if not cells:
        return '<p class="muted">The report has no cells.</p>'
    head = "".join(
        f"<th{_NUM if numeric else ''}>{label}</th>"
        for label, numeric in (
            ("scenario", False),
            ("store", False),
            ("mode", False),
            ("runs", True),
            ("failures", True),
            ("rate", True),
            ("95 % CI", False),
            ("replay token", False),
        )
    )
    rows = []
    for c in cells:
        token = f"<code>{escape(c.tokens[0])}</code>" if c.tokens else "—"
        rate = pct(c.rate) if c.runs else "—"
        rows.append(
            f'<tr{_FAILING if c.failures else ""}><td class="name">{escape(c.name)}</td>'
            f"<td>{escape(c.store)}</td><td>{escape(c.mode)}</td>"
            f'<td class="num">{count(c.runs)}</td><td class="num">{count(c.failures)}</td>'
            f'<td class="num">{rate}</td><td class="num">{interval(c.ci_low, c.ci_high)}</td>'
            f"<td>{token}</td></tr>"
        )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


# -------------------------------------------------------------- examples
def _examples(cells: list[Cell]) -> str:
    with_example = [c for c in cells if c.example]
    # Failing cells first (stable), so the examples people came for are shown.
    with_example.sort(key=lambda c: c.failures == 0)
    if not with_example:
        return ""
    shown = with_example[:MAX_EXAMPLES]
    parts = ["<h2>Example failures</h2>"]
    parts += [_example(c, i) for i, c in enumerate(shown)]
    hidden = len(with_example) - len(shown)
    if hidden:
        parts.append(f'<p class="muted">{hidden} more example(s) are in report.json.</p>')
    return "\n".join(parts)


def _example(cell: Cell, index: int) -> str:
    example = cell.example or {}
    events = _swimlane.events_of(example)
    parts = [f"<h3>{escape(cell_id(cell))}</h3>"]
    error = example.get("error")
    if isinstance(error, str) and error:
        parts.append(f"<div>Error</div><pre>{escape(error)}</pre>")
    command = example.get("command")
    if isinstance(command, str) and command:
        parts.append(f"<div>Replay it</div><pre>{escape(command)}</pre>")
    if events:
        actors = len({e.actor for e in events})
        parts.append(
            f'<div class="muted">{count(len(events))} events, {actors} actors '
            "(hover a marker for details)</div>"
        )
        parts.append(_swimlane.legend(events))
        parts.append(_swimlane.swimlane_svg(events, str(index)))
        opened = " open" if len(events) <= 80 else ""
        parts.append(
            f"<details{opened}><summary>event table ({count(len(events))} events)</summary>"
            f"{_swimlane.event_table(events)}</details>"
        )
    return f'<section class="example">{"".join(parts)}</section>'
