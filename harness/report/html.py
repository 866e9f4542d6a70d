"""The self-contained HTML report: one page, inline CSS and SVG, no script.

Top to bottom: a header (the headline that tells unexpected failures from
the bundled buggy variants' expected ones, the gate's verdict and threshold
when the report was gated, counts, and the few run settings that matter,
with units), the simulated cells (verdicts and coverage, each failing one
followed by its full replay command), the real cells (a chart of flake
rates with Wilson intervals and their table), every example failure (the
first three open, the rest collapsed in ``<details>``), and the complete
run metadata, collapsed, at the end.

Invariants:

* the page references no external resource and contains no script (it
  opens offline, as a CI artifact); every piece of report text passes
  through :func:`html.escape`;
* nothing is wider than the page: tables wrap long names and tokens
  (``overflow-wrap: anywhere``) and turn into one card per cell below
  720 px; the rate chart and the swimlanes are sized in percentages; so
  there is no horizontal scrolling at any width down to 420 px, no
  scrolling inside a box, and no token is ever cut;
* any report renders: no cells, cells with no runs, malformed examples,
  examples with hundreds of events.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import TYPE_CHECKING, Any

from ._chart import TONE, rate_chart
from ._format import count, interval, pct, seconds
from ._swimlane import event_table, events_of, legend, links, swimlane_svg
from ._view import CellView, ExampleView, Outcome, ReportView, view
from ._wording import (
    command_of,
    coverage_text,
    gate_cell_text,
    gate_settings,
    headline,
    lost_text,
    meta_label,
    meta_value,
    plural,
    run_facts,
    verdict_text,
)

if TYPE_CHECKING:
    from .model import Report

OPEN_EXAMPLES = 3
"""How many example failures are shown open; the others are collapsed, never dropped."""
OUTCOME_TAG = {
    Outcome.UNEXPECTED: "✗ unexpected failure",
    Outcome.EXPECTED: "expected failure",
    Outcome.PASSED: "✓ passed",
    Outcome.MISSED: "⚠ bug not found",
    Outcome.UNSEEN: "not seen",
    Outcome.NOT_RUN: "not run",
}
_MARK = {"bad": "✗", "warn": "⚠", "good": "✓"}

_CSS = """
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;
 color:#1f2328;margin:0 auto;max-width:1280px;padding:20px 24px 40px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;padding-bottom:4px;
 border-bottom:1px solid #d8dee4}h3{font-size:15px;margin:16px 0 6px}
p{margin:6px 0}.muted{color:#656d76}a{color:#0969da}
code,pre,.note,table.events,.lane-names{
 font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"DejaVu Sans Mono",monospace}
code,pre{font-size:12.5px;overflow-wrap:anywhere;word-break:break-word}
pre{background:#f6f8fa;border:1px solid #d8dee4;border-radius:6px;padding:8px 12px;
 white-space:pre-wrap;margin:4px 0 10px}
.headline{font-size:18px;font-weight:650;margin:10px 0 2px}.headline .mark{margin-right:6px}
.bad{color:#b71c1c}.warn{color:#8a5300}.good{color:#1b5e20}
.banner{border:1px solid #d8dee4;border-radius:8px;padding:8px 14px;margin:10px 0}
.banner.fail{background:#ffebee;border-color:#ef9a9a}.banner.pass{background:#e8f5e9;
 border-color:#a5d6a7}.banner.warn{background:#fff8e1;border-color:#ffe082;color:inherit}
.banner b{font-size:15px}
.stats{display:flex;flex-wrap:wrap;gap:8px;margin:12px 0}
.stat{border:1px solid #d8dee4;border-radius:8px;padding:4px 12px;min-width:84px;font-size:13px}
.stat b{display:block;font-size:19px}.stat.bad b{color:#b71c1c}.stat.exp b{color:#8a4b00}
dl.facts{display:flex;flex-wrap:wrap;gap:2px 18px;margin:8px 0;font-size:13px}
dl.facts div{display:flex;gap:6px;min-width:0}dl.facts dt{color:#656d76}
dl.facts dd{margin:0;font-weight:600;overflow-wrap:anywhere}
p.command{font-size:13px}p.command span{color:#656d76;margin-right:6px}
table{border-collapse:collapse;font-size:13px;width:100%}
th{background:#f6f8fa;text-align:left;font-weight:600}
th,td{border-bottom:1px solid #e5e8eb;padding:4px 7px;vertical-align:top}
td{overflow-wrap:anywhere}th{overflow-wrap:normal}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}td.num{white-space:nowrap}
td.ci{white-space:normal;min-width:5.5em}table.cells td.cell{min-width:9em}
table.cells td.cell .name{display:block;max-width:22em}
table.cells td.errors{min-width:7em}
table.cells tr.has-replay td{border-bottom:0}
tr.replay td{padding:0 8px 6px;font-size:12.5px}tr.replay .what{color:#656d76;margin-right:6px}
tr.o-unexpected td:first-child{box-shadow:inset 3px 0 #c62828}
tr.o-expected td:first-child{box-shadow:inset 3px 0 #ef6c00}
tr.o-missed td:first-child{box-shadow:inset 3px 0 #f9a825}
.tag{display:inline-block;border-radius:10px;padding:0 8px;font-size:12px;white-space:nowrap}
.tag.o-unexpected{background:#ffebee;color:#b71c1c;font-weight:600}
.tag.o-expected{background:#fff3e0;color:#8a4b00}.tag.o-passed{background:#e8f5e9;color:#1b5e20}
.tag.o-missed{background:#fff8e1;color:#8a5300;font-weight:600}
.tag.o-unseen,.tag.o-notrun{background:#eceff1;color:#455a64}
.verdict-fail{color:#b71c1c;font-weight:600}.verdict-unproven{color:#8a5300;font-weight:600}
.verdict-pass{color:#1b5e20}
.legend{font-size:12px;margin:6px 0}.legend span{display:inline-block;margin:0 14px 4px 0}
.sw{display:inline-block;width:10px;height:10px;border-radius:50%;margin-right:5px;
 vertical-align:-1px}.sw.dev{background:#ffe082;border:2.5px solid #111;width:7px;height:7px}
.sw.o-unexpected{background:#c62828}.sw.o-expected{background:#ef6c00}
.sw.o-passed{background:#2e7d32}.sw.o-notrun{background:#9e9e9e}
.legend .link{display:inline-block;width:22px;border-top:1.5px solid #455a64;margin-right:5px;
 vertical-align:3px}.legend .link.dev{border-top:2px solid #e65100}
.legend .link.overtaken{border-top:2.5px solid #c62828}
.legend .lanekey{display:inline-block;width:22px;height:10px;background:#e1eaf7;
 border:1px solid #c5d3e8;margin-right:5px;vertical-align:-1px}
.legend .limitkey{display:inline-block;height:12px;border-left:2px dashed #6a1b9a;
 margin:0 5px 0 4px;vertical-align:-2px}
.chart{margin:4px 0 14px;border:1px solid #d8dee4;border-radius:6px;padding:4px 0}
.chart .row,.chart .axis{display:grid;grid-template-columns:minmax(8rem,17rem) minmax(0,1fr) 10rem;
 gap:0 12px;align-items:center;padding:1px 10px}
.chart .row{min-height:24px}.chart .row:nth-child(odd){background:#f6f8fa}
.chart .axis>span{text-align:right;font-size:11px;color:#57606a}
.chart .label{text-align:right;overflow-wrap:anywhere;font-size:13px;line-height:1.25}
.chart .track,.chart .ticks{position:relative;margin:0 8px}.chart .track{height:22px}
.chart .ticks{height:16px}.ticks span{position:absolute;top:0;transform:translateX(-50%);
 font-size:11px;color:#57606a;white-space:nowrap}.ticks span.end{transform:translateX(-100%)}
.track i{position:absolute;display:block}.track .grid{top:0;bottom:0;width:1px;background:#d0d7de}
.track .limit{top:-3px;bottom:-3px;width:0;border-left:2px dashed #6a1b9a}
.track .ci{top:5px;height:12px;border-left:2px solid;border-right:2px solid;
 background:linear-gradient(currentColor,currentColor) center/100% 3px no-repeat}
.track .ci.none{border:0;
 background:repeating-linear-gradient(90deg,#9e9e9e 0 4px,transparent 4px 7px) center/100% 2px
 no-repeat}
.track .dot{top:5px;width:12px;height:12px;margin-left:-6px;border-radius:50%;
 background:currentColor;border:1.5px solid #fff}
.chart .note{font-size:12px;white-space:nowrap}
.row.o-unexpected{color:#c62828}.row.o-expected{color:#ef6c00}.row.o-passed,.row.o-unseen{
 color:#2e7d32}.row.o-missed{color:#f9a825}.row.o-notrun{color:#9e9e9e}
.row .label,.row .note{color:#1f2328}
details.example{border:1px solid #d8dee4;border-radius:8px;margin:10px 0;padding:0 14px}
details.example>summary{cursor:pointer;padding:8px 0;overflow-wrap:anywhere}
details.example>summary .msg{color:#57606a}details.example[open]>summary{
 border-bottom:1px solid #e5e8eb;margin-bottom:8px}
details.example .body{padding-bottom:10px}.label-line{font-size:13px;color:#57606a;margin:8px 0 2px}
details.sub>summary{cursor:pointer;color:#57606a;margin:6px 0}
details.tokens>summary{margin:2px 0}details.tokens ul{margin:0 0 4px;padding-left:18px}
.swimlane{margin:6px 0 10px}.strip{display:grid;grid-template-columns:9.5rem minmax(0,1fr);
 border:1px solid #d8dee4;border-radius:6px;margin:0 0 6px;overflow:hidden}
.lane-names{font-size:12px;background:#fafbfc;border-right:1px solid #9e9e9e}
.lane-names div{height:28px;line-height:28px;padding:0 8px;text-align:right;white-space:nowrap;
 overflow:hidden;text-overflow:ellipsis}.lane-names .narrow{display:none}
.lane-names .axis-name{height:20px;line-height:16px;color:#57606a;font-size:11px}
svg.lane-plot{display:block;min-width:0}
svg.lane-plot text{font-family:system-ui,"DejaVu Sans",sans-serif;font-size:11px;fill:#57606a}
svg.lane-plot text.dev{fill:#e65100;font-weight:600;font-size:10px}
svg.lane-plot text.dev-short{font-size:8px}
table.events{font-size:12px}table.events td{padding:1px 8px;border-bottom:1px solid #f0f0f0;
 overflow-wrap:normal}table.events td.kind,table.events td.num{white-space:nowrap}
table.events td:last-child{overflow-wrap:anywhere}table.events tr.dev td{background:#fff3cd}
.devmark{color:#e65100}
table.meta td:first-child{color:#656d76;white-space:nowrap;width:1%}
@media (max-width:720px){
 body{padding:12px 12px 30px}h1{font-size:21px}
 table.cells thead{display:none}
 table.cells,table.cells tbody{display:block;width:auto}
 table.cells tr{display:flex;flex-wrap:wrap;gap:0 14px;border:1px solid #d8dee4;border-radius:8px;
  margin:0 0 8px;padding:4px 10px}
 table.cells tr.has-replay{border-bottom:0;border-radius:8px 8px 0 0;margin-bottom:0}
 table.cells tr.replay{border-top:0;border-radius:0 0 8px 8px;padding-top:0;margin-top:-1px}
 table.cells td{display:block;border:0;padding:1px 0;text-align:left;white-space:normal;
  min-width:0}
 table.cells td[data-label]::before{content:attr(data-label) ": ";color:#656d76}
 table.cells td.cell{flex:1 0 100%;font-weight:600;min-width:0}
 table.cells tr.replay td{flex:1 0 100%}
 tr.o-unexpected td:first-child,tr.o-expected td:first-child,tr.o-missed td:first-child{
  box-shadow:none}
 .strip{grid-template-columns:6.75rem minmax(0,1fr)}.lane-names{font-size:11px}
 .lane-names div{padding:0 5px}.lane-names .wide{display:none}.lane-names .narrow{display:inline}
 svg.lane-plot text.minor,svg.lane-plot text.dev-long{display:none}
 table.events td{padding:1px 4px}
}
@media (max-width:640px){
 .chart .row{grid-template-columns:minmax(0,1fr) auto;
  grid-template-areas:"label note" "track track"}
 .chart .row .label{grid-area:label;text-align:left}.chart .row .note{grid-area:note}
 .chart .row .track{grid-area:track}
 .chart .axis{grid-template-columns:minmax(0,1fr)}.chart .axis>span{display:none}
 .ticks span.minor{display:none}
}
"""


def render_html(report: Report | Mapping[str, Any]) -> str:
    """The whole page as one string (UTF-8, no external references, no script)."""
    data = view(report)
    body = [
        _header(data),
        _simulated(data),
        _real(data),
        _examples(data),
        _meta(data),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        "<title>Flake-rate report</title>\n"
        f"<style>{_CSS}</style>\n</head>\n<body>\n"
        + "\n".join(part for part in body if part)
        + "\n</body>\n</html>\n"
    )


# ---------------------------------------------------------------- header
def _header(report: ReportView) -> str:
    head = headline(report)
    created = [f"created {escape(report.created)}"] if report.created else []
    if report.harness_version:
        created.append(f"harness {escape(report.harness_version)}")
    created.append(f"<code>{escape(report.schema or '?')}</code>")
    parts = [
        "<header>",
        "<h1>Flake-rate report</h1>",
        f'<p class="muted">{" · ".join(created)}</p>',
        f'<p class="headline {head.tone}"><span class="mark">{_MARK[head.tone]}</span>'
        f"{escape(head.title)}</p>",
    ]
    if head.detail:
        parts.append(f"<p>{escape(head.detail)}</p>")
    parts += [_gate_banner(report), *_warnings(report), _stats(report), _facts(report)]
    parts.append("</header>")
    return "\n".join(p for p in parts if p)


def _gate_banner(report: ReportView) -> str:
    gate = report.gate
    if gate is None:
        return ""
    tone = "pass" if gate.passed else "fail"
    tally = gate.tally()
    counts = ", ".join(f"{count(n)} {verdict}" for verdict, n in tally.items())
    word = "Gate passed" if gate.passed else "Gate FAILED"
    return (
        f'<section class="banner {tone}" aria-label="gate verdict"><b>{word}</b>: {escape(counts)}'
        f"<br>threshold: {escape(gate_settings(gate))}"
        '<br><span class="muted">A confirmed failing schedule fails a simulated cell whatever '
        "the threshold; a real cell fails when its interval's lower bound is above it.</span>"
        "</section>"
    )


def _warnings(report: ReportView) -> list[str]:
    out = []
    if report.interrupted:
        by = f" by {report.interrupted_by}" if report.interrupted_by else ""
        ended = sum(c.runs for c in report.cells)
        planned = sum(c.planned for c in report.cells)
        out.append(
            f'<p class="banner warn"><b>Interrupted{escape(by)}</b>: a partial report, '
            f"{count(ended)} of {plural(planned, 'planned run')} ended.</p>"
        )
    shard = report.shard
    if shard is not None:
        out.append(
            f'<p class="banner warn"><b>Shard {shard[0]} of {shard[1]}</b>: one part of the plan; '
            "merge all shards (<code>harness report merge</code>) for the whole picture.</p>"
        )
    return out


def _stats(report: ReportView) -> str:
    cells = report.cells
    tally = report.outcomes()
    wall = report.meta.get("wall_time_s", report.meta.get("wall_time"))
    if not isinstance(wall, int | float) or isinstance(wall, bool):
        wall = sum(c.wall_time_s for c in cells)
    boxes = [
        ("cells", count(len(cells)), ""),
        (
            "unexpected failures",
            count(tally[Outcome.UNEXPECTED]),
            "bad" * bool(tally[Outcome.UNEXPECTED]),
        ),
        (
            "expected failures",
            count(tally[Outcome.EXPECTED]),
            "exp" * bool(tally[Outcome.EXPECTED]),
        ),
        ("passed", count(tally[Outcome.PASSED]), ""),
        ("runs", count(sum(c.runs for c in cells)), ""),
        ("crashed", count(sum(c.crashed for c in cells)), "bad" * any(c.crashed for c in cells)),
        (
            "timed out",
            count(sum(c.timed_out for c in cells)),
            "bad" * any(c.timed_out for c in cells),
        ),
    ]
    never = sum(c.never_ran for c in cells)
    if never:
        boxes.append(("never ran", count(never), "bad"))
    boxes.append(("wall time", seconds(float(wall)), ""))
    return (
        '<div class="stats">'
        + "".join(
            f'<div class="stat {tone}"><b>{escape(value)}</b>{escape(label)}</div>'
            for label, value, tone in boxes
        )
        + "</div>"
    )


def _facts(report: ReportView) -> str:
    facts = "".join(
        f"<div><dt>{escape(label)}</dt><dd>{escape(value)}</dd></div>"
        for label, value in run_facts(report)
    )
    out = f'<dl class="facts">{facts}</dl>' if facts else ""
    command = command_of(report)
    if command:
        out += f'<p class="command"><span>command</span><code>{escape(command)}</code></p>'
    return out


# ----------------------------------------------------------------- cells
def _tag(cell: CellView) -> str:
    outcome = cell.outcome
    return (
        f'<span class="tag {TONE[outcome]}" title="{escape(outcome.value)}">'
        f"{escape(OUTCOME_TAG[outcome])}</span>"
    )


def _label(cell: CellView) -> str:
    """The cell's name, breakable after each ``/`` so a narrow column wraps it between parts."""
    name = escape(cell.label).replace("/", "/<wbr>")
    return f'<span class="name">{name}</span>{_mode(cell)}'


def _nbsp(text: str) -> str:
    """``"0.55 %"`` never splits between the number and its unit."""
    return escape(text).replace(" %", "\u00a0%")


def _gate_td(cell: CellView, gated: bool) -> str:
    if not gated:
        return ""
    gate = cell.gate
    if gate is None:
        return '<td data-label="gate">—</td>'
    tip = f' title="{escape(gate.reason)}"' if gate.reason else ""
    return (
        f'<td data-label="gate"{tip}><span class="verdict-{escape(gate.verdict)}">'
        f"{escape(gate_cell_text(gate))}</span></td>"
    )


def _td(label: str, content: str, cls: str = "") -> str:
    attribute = f' class="{cls}"' if cls else ""
    return f'<td data-label="{label}"{attribute}>{content}</td>'


def _replay_row(cell: CellView, columns: int, anchors: Mapping[str, int]) -> str:
    command = cell.replay_command
    if not command:
        return ""
    what = "replay" if cell.simulated and cell.tokens else "re-run"
    extra = ""
    more = "more failing schedule" if cell.simulated else "more failing run"
    if len(cell.tokens) > 1:
        others = "".join(f"<li><code>{escape(t)}</code></li>" for t in cell.tokens[1:])
        extra = (
            f'<details class="sub tokens"><summary>{plural(len(cell.tokens) - 1, more)}'
            f"</summary><ul>{others}</ul></details>"
        )
    link = ""
    if cell.id in anchors:
        n = anchors[cell.id]
        link = f' · <a href="#example-{n}">example #{n}</a>'
    return (
        f'<tr class="replay {TONE[cell.outcome]}"><td colspan="{columns}">'
        f'<span class="what">{what}</span><code class="command">{escape(command)}</code>'
        f"{link}{extra}</td></tr>"
    )


def _table(head: Sequence[tuple[str, bool]], rows: Sequence[str], kind: str) -> str:
    num_class = ' class="num"'
    th = "".join(f"<th{num_class if num else ''}>{escape(h)}</th>" for h, num in head)
    return (
        f'<table class="cells {kind}"><thead><tr>{th}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _simulated(report: ReportView) -> str:
    cells = [c for c in report.cells if c.simulated]
    if not cells:
        return "" if report.cells else '<h2>Cells</h2><p class="muted">The report has no cells.</p>'
    gated = report.gate is not None
    head = [("cell", False), ("outcome", False), ("verdict", False)]
    head += [("coverage", False), ("errors", False)]
    head += [("gate", False)] * gated + [("time", True)]
    anchors = _anchors(report)
    rows = []
    for c in cells:
        replay = _replay_row(c, len(head), anchors)
        rows.append(
            f'<tr class="{TONE[c.outcome]}{" has-replay" if replay else ""}">'
            f'<td class="cell">{_label(c)}</td>'
            + _td("outcome", _tag(c))
            + _td("verdict", escape(verdict_text(c)))
            + _td("coverage", escape(coverage_text(c)))
            + _td("errors", escape(c.top_errors(3)) or "—", "errors")
            + _gate_td(c, gated)
            + _td("time", seconds(c.wall_time_s), "num")
            + "</tr>"
            + replay
        )
    intro = (
        '<p class="muted">Each simulated cell explores schedules under harness\'s control. A '
        "failing schedule is a proof, replayed exactly by its token; a clean cell shows how much "
        "it explored. These are verdicts, not flake rates.</p>"
    )
    return f"<h2>Simulated cells: verdicts</h2>{intro}{_table(head, rows, 'sim')}"


def _real(report: ReportView) -> str:
    cells = [c for c in report.cells if not c.simulated]
    if not cells:
        return ""
    gated = report.gate is not None
    head = [("cell", False), ("outcome", False), ("runs", True), ("failed", True)]
    head += [("lost runs", False), ("rate", True), ("95 % CI", True), ("errors", False)]
    head += [("gate", False)] * gated + [("time", True)]
    anchors = _anchors(report)
    rows = []
    for c in cells:
        replay = _replay_row(c, len(head), anchors)
        rows.append(
            f'<tr class="{TONE[c.outcome]}{" has-replay" if replay else ""}">'
            f'<td class="cell">{_label(c)}</td>'
            + _td("outcome", _tag(c))
            + _td("runs", count(c.runs), "num")
            + _td("failed", count(c.failures), "num")
            + _td("lost runs", escape(lost_text(c)) or "—")
            + _td("rate", _nbsp(pct(c.rate)) if c.runs else "—", "num")
            + _td("95 % CI", _nbsp(interval(c.ci_low, c.ci_high)), "num ci")
            + _td("errors", escape(c.top_errors(3)) or "—", "errors")
            + _gate_td(c, gated)
            + _td("time", seconds(c.wall_time_s), "num")
            + "</tr>"
            + replay
        )
    intro = (
        '<p class="muted">Real runs on aiosqlite and the stock event loop. The rate counts '
        "failed, crashed and timed-out runs, with its Wilson 95 % interval; lost runs are "
        "the crashed, timed-out and never-run ones.</p>"
    )
    chart = rate_chart(cells, report.gate.max_rate if report.gate else None)
    return f"<h2>Real runs: flake rates</h2>{intro}{chart}{_table(head, rows, 'real')}"


def _mode(cell: CellView) -> str:
    usual = "sim" if cell.simulated else "real"
    return "" if cell.mode == usual else f' <span class="muted">[{escape(cell.mode)}]</span>'


# -------------------------------------------------------------- examples
def _ordered_examples(report: ReportView) -> list[tuple[CellView, ExampleView]]:
    """Every example, unexpected failures' first, then in cell and example order."""
    rank = {Outcome.UNEXPECTED: 0, Outcome.MISSED: 1, Outcome.EXPECTED: 2}
    cells = sorted(report.cells, key=lambda c: rank.get(c.outcome, 3))  # stable
    return [(c, e) for c in cells for e in c.examples]


def _anchors(report: ReportView) -> dict[str, int]:
    """The number of each cell's first example on the page."""
    out: dict[str, int] = {}
    for n, (cell, _) in enumerate(_ordered_examples(report), start=1):
        out.setdefault(cell.id, n)
    return out


def _examples(report: ReportView) -> str:
    examples = _ordered_examples(report)
    if not examples:
        return ""
    shown = min(OPEN_EXAMPLES, len(examples))
    note = f"all {len(examples)}; the first {shown} are open, click a title to open another"
    if len(examples) <= OPEN_EXAMPLES:
        note = "all open"
    parts = [f'<h2>Example failures ({count(len(examples))})</h2><p class="muted">{note}.</p>']
    parts += [_example(c, e, n) for n, (c, e) in enumerate(examples, start=1)]
    return "\n".join(parts)


def _example(cell: CellView, example: ExampleView, n: int) -> str:
    opened = " open" if n <= OPEN_EXAMPLES else ""
    summary = (
        f"<summary><b>#{n} {escape(cell.id)}</b> {_tag(cell)} "
        f'<span class="msg">{escape(_short(example.headline, 160))}</span></summary>'
    )
    body = [f"<pre>{escape(example.headline)}</pre>"]
    if example.crash:
        body.append(f'<p class="label-line">The worker died: {escape(example.crash)}.</p>')
    if example.seed is not None:
        body.append(f'<p class="label-line">seed {example.seed}</p>')
    if example.command:
        what = "Replay it" if example.token else "Re-run it"
        body.append(f'<div class="label-line">{what}</div><pre>{escape(example.command)}</pre>')
    if example.traceback:
        body.append(
            f'<details class="sub"><summary>traceback ({plural(len(example.traceback), "line")})'
            f"</summary><pre>{escape(chr(10).join(example.traceback))}</pre></details>"
        )
    body.append(_events(example, n))
    return (
        f'<details class="example" id="example-{n}"{opened}>{summary}'
        f'<div class="body">{"".join(body)}</div></details>'
    )


def _events(example: ExampleView, n: int) -> str:
    events = events_of(list(example.events))
    if not events:
        return ""
    actors = len({e.actor for e in events})
    arrows = len(links(events))
    opened = " open" if len(events) <= 40 else ""
    return (
        f'<p class="label-line">{plural(len(events), "event")}, {plural(actors, "actor")}, '
        f"{plural(arrows, 'statement')} from submit to execution (hover a marker for details)</p>"
        + legend(events)
        + swimlane_svg(events, str(n))
        + f'<details class="sub"{opened}><summary>event table ({plural(len(events), "event")})'
        f"</summary>{event_table(events)}</details>"
    )


def _short(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


# ------------------------------------------------------------------ meta
def _meta(report: ReportView) -> str:
    meta = report.meta
    if not meta:
        return ""
    rows = []
    for key, value in meta.items():
        if key == "merged_from" and isinstance(value, list):
            shown = plural(len(value), "report")
        else:
            shown = _short(meta_value(str(key), value), 600)
        rows.append(
            f"<tr><td>{escape(meta_label(str(key)))}</td><td><code>{escape(shown)}</code></td></tr>"
        )
    return (
        f'<h2>Run metadata</h2><details class="sub"><summary>all {plural(len(meta), "field")}'
        f'</summary><table class="meta"><tbody>{"".join(rows)}</tbody></table></details>'
    )
