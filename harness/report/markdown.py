"""The Markdown report, sized for a CI job summary (``$GITHUB_STEP_SUMMARY``).

Layout: a headline that tells unexpected failures (❌) from the bundled
buggy variants' expected ones (☑️), the gate's verdict and threshold when
the report was gated, a line of run settings with units, one table row per
cell, a key to the icons, the replay commands, then the first unexpected
failure (or, if there is none, the first failure): its error and the
command that replays it.

Invariants:

* no token is in the table: a row names its replay command by a short id
  (``r3``) and the commands follow the table in one code block, so a row
  never wraps onto several lines because of a 100-character token;
* only shrunk tokens are shown, and the table's command for a cell and the
  "Replay it" command are the same string (:attr:`CellView.replay_command`);
* simulated cells show a verdict and their coverage, never a rate; real
  cells show the rate with its Wilson interval;
* the output grows by about three lines per cell plus a constant (30 cells
  stay well under 200 lines) and ends with a newline.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ._format import count
from ._view import CellView, Outcome, ReportView, view
from ._wording import (
    coverage_text,
    gate_cell_text,
    gate_line,
    headline,
    lost_text,
    plural,
    rate_text,
    run_facts,
)

if TYPE_CHECKING:
    from .model import Report

ICON = {
    Outcome.UNEXPECTED: "❌",
    Outcome.EXPECTED: "☑️",
    Outcome.PASSED: "✅",
    Outcome.MISSED: "⚠️",
    Outcome.UNSEEN: "\u2796",  # heavy minus sign: nothing seen
    Outcome.NOT_RUN: "⏸️",
}
_KEY = {
    Outcome.UNEXPECTED: "unexpected failure",
    Outcome.EXPECTED: "expected to fail and did (a bundled original/naive-fix variant)",
    Outcome.PASSED: "passed",
    Outcome.MISSED: "expected to fail, but no failing schedule was found",
    Outcome.UNSEEN: "expected to fail, not seen in these real runs",
    Outcome.NOT_RUN: "not run",
}
_HEADLINE_ICON = {"bad": "❌", "warn": "⚠️", "good": "✅"}
TRACEBACK_LINES = 8


def render_markdown(report: Report | Mapping[str, Any]) -> str:
    """The whole Markdown document (ends with a newline)."""
    data = view(report)
    head = headline(data)
    lines = ["## Flake-rate report", "", f"### {_HEADLINE_ICON[head.tone]} {head.title}", ""]
    if head.detail:
        lines += [head.detail, ""]
    if data.gate is not None:
        icon = "✅" if data.gate.passed else "❌"
        verdict, _, settings = gate_line(data.gate).partition(" (")
        lines += [f"**{icon} {verdict}** — {settings.rstrip(')')}", ""]
    lines += _warnings(data)
    settings_line = _settings(data)
    if settings_line:
        lines += [settings_line, ""]
    if data.cells:
        ids = _replay_ids(data.cells)
        lines += _table(data, ids)
        lines += ["", _key(data.cells), ""]
        lines += _replays(data.cells, ids)
        lines += _first_failure(data.cells, ids)
    return "\n".join(lines).rstrip("\n") + "\n"


def _warnings(report: ReportView) -> list[str]:
    out = []
    if report.interrupted:
        by = f" by {report.interrupted_by}" if report.interrupted_by else ""
        ended = sum(c.runs for c in report.cells)
        planned = sum(c.planned for c in report.cells)
        out += [
            f"⚠️ **Interrupted{by}**: a partial report, {count(ended)} of "
            f"{plural(planned, 'planned run')} ended.",
            "",
        ]
    if report.shard is not None:
        index, total = report.shard
        out += [
            f"⚠️ **Shard {index} of {total}**: one part of the plan; merge all shards "
            "(`harness report merge`) for the whole picture.",
            "",
        ]
    return out


def _settings(report: ReportView) -> str:
    return " · ".join(f"{label} {code(value)}" for label, value in run_facts(report))


def _replay_ids(cells: Sequence[CellView]) -> dict[str, str]:
    """``r1``, ``r2``, … for the cells that have a replay or re-run command, in table order."""
    out: dict[str, str] = {}
    for cell in cells:
        if cell.replay_command:
            out[cell.id] = f"r{len(out) + 1}"
    return out


def _table(report: ReportView, ids: Mapping[str, str]) -> list[str]:
    gated = report.gate is not None
    head = ["", "scenario", "store", "mode", "runs", "result", "detail", "errors"]
    align = [":-:", "---", "---", "---", "---:", "---", "---", "---"]
    if gated:
        head.append("gate")
        align.append("---")
    head.append("replay")
    align.append("---")
    lines = ["| " + " | ".join(head) + " |", "| " + " | ".join(align) + " |"]
    for cell in report.cells:
        columns = [
            ICON[cell.outcome],
            _text(cell.name),
            _text(cell.store),
            _text(cell.mode),
            count(cell.runs),
            _text(_result(cell)),
            _text(_detail(cell)),
            _text(cell.top_errors()),
        ]
        if gated:
            columns.append(_text(gate_cell_text(cell.gate)) if cell.gate else "—")
        columns.append(ids.get(cell.id, "—"))
        lines.append("| " + " | ".join(columns) + " |")
    return lines


def _result(cell: CellView) -> str:
    """A verdict for a simulated cell, a rate with its interval for a real one."""
    if not cell.simulated:
        return rate_text(cell)
    if cell.runs == 0:
        return "not run"
    return f"fails ({plural(cell.failing, 'schedule')})" if cell.failing else "clean"


def _detail(cell: CellView) -> str:
    if cell.simulated:
        extra = lost_text(cell)
        return coverage_text(cell) + (f"; {extra}" if extra else "")
    parts = [f"{count(cell.failures)} failed"] + ([lost_text(cell)] if lost_text(cell) else [])
    return ", ".join(parts)


def _key(cells: Sequence[CellView]) -> str:
    present = {c.outcome for c in cells}
    return " · ".join(f"{ICON[o]} {_KEY[o]}" for o in Outcome if o in present)


def _replays(cells: Sequence[CellView], ids: Mapping[str, str]) -> list[str]:
    """One code block: for each id a comment naming the cell, then its command."""
    if not ids:
        return []
    body = []
    for cell in cells:
        if cell.id not in ids:
            continue
        command = cell.replay_command or ""
        what = cell.examples[0].error if cell.examples and cell.examples[0].error else ""
        note = f"{cell.id} ({cell.outcome.value})" + (f": {what}" if what else "")
        body += [f"# {ids[cell.id]}  {' '.join(note.split())}", " ".join(command.split())]
    return [
        "**Replay commands** (`rN` in the table; a simulated cell replays its first shrunk "
        "token, a real cell re-runs its failing seed):",
        "",
        *fenced("\n".join(body), "sh"),
        "",
    ]


def _first_failure(cells: Sequence[CellView], ids: Mapping[str, str]) -> list[str]:
    unexpected = [c for c in cells if c.outcome is Outcome.UNEXPECTED]
    failing = unexpected or [c for c in cells if c.outcome is Outcome.EXPECTED]
    if not failing:
        return []
    cell = failing[0]
    title = "First unexpected failure" if unexpected else "First failure (expected)"
    lines = [f"### {title}: {code(cell.id)}", ""]
    example = cell.examples[0] if cell.examples else None
    if example is not None:
        text = example.headline
        if example.crash:
            text += f"\n(the worker died: {example.crash})"
        if example.traceback:
            text += "\n\n" + "\n".join(example.traceback[-TRACEBACK_LINES:])
        lines += [*fenced(text, "text"), ""]
    command = cell.replay_command
    if command:
        label = "Replay it" if cell.simulated and cell.tokens else "Re-run it"
        lines += [f"{label} ({ids.get(cell.id, '')}):", "", *fenced(command, "console")]
    return lines


def _text(value: str) -> str:
    """A table cell: pipes escaped, line breaks flattened."""
    return " ".join(value.split()).replace("|", "\\|") or "—"


def code(value: str) -> str:
    """An inline code span that survives backticks inside ``value``."""
    value = " ".join(value.split())
    runs = [len(m) for m in re.findall(r"`+", value)]
    ticks = "`" * (max(runs, default=0) + 1)
    pad = " " if value.startswith("`") or value.endswith("`") else ""
    return f"{ticks}{pad}{value}{pad}{ticks}"


def fenced(text: str, language: str) -> list[str]:
    """A fenced code block longer than any backtick run inside ``text``."""
    runs = [len(m) for m in re.findall(r"`{3,}", text)]
    fence = "`" * max(3, max(runs, default=0) + 1)
    return [f"{fence}{language}", *text.rstrip("\n").splitlines(), fence]
