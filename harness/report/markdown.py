"""The Markdown report, sized for a CI job summary (``$GITHUB_STEP_SUMMARY``).

Layout: a title, a one-line verdict, a short line of run settings, one
table row per cell, then the first failing cell's example: its error and
the exact command that replays it. The output grows by one line per cell
plus a constant (about 25 lines), so 30 cells stay well under 200 lines.
"""

from __future__ import annotations

import re
from typing import Any

from ._format import cell_id, count, interval, pct, verdict_line
from .model import Cell, Report

_META_KEYS = ("seed", "runs", "workers", "shard", "mode", "harness", "python", "sqlite")
_HEADER = (
    "| scenario | store | mode | runs | failures | rate | 95 % CI | replay token |",
    "| --- | --- | --- | ---: | ---: | ---: | --- | --- |",
)


def render_markdown(report: Report) -> str:
    """The whole Markdown document (ends with a newline)."""
    failing = any(c.failures for c in report.cells)
    icon = "❌" if failing else ("✅" if report.cells else "⚠️")
    lines = ["## Flake-rate report", "", f"**{icon} {verdict_line(report)}**", ""]
    settings = _settings(report.meta)
    if settings:
        lines += [settings, ""]
    if report.cells:
        lines += [*_HEADER, *(_row(c) for c in report.cells)]
    example = next((c for c in report.cells if c.failures and c.example), None)
    if example is not None:
        lines += ["", *_example(example)]
    return "\n".join(lines) + "\n"


def _row(cell: Cell) -> str:
    token = code(cell.tokens[0]).replace("|", "\\|") if cell.tokens else "—"
    rate = pct(cell.rate) if cell.runs else "—"
    columns = [
        _text(cell.name),
        _text(cell.store),
        _text(cell.mode),
        count(cell.runs),
        count(cell.failures),
        rate,
        interval(cell.ci_low, cell.ci_high),
        token,
    ]
    return "| " + " | ".join(columns) + " |"


def _example(cell: Cell) -> list[str]:
    example: dict[str, Any] = cell.example or {}
    lines = [f"### First failure: {code(cell_id(cell))}", ""]
    error = example.get("error")
    if isinstance(error, str) and error:
        lines += [*fenced(error, "text"), ""]
    command = example.get("command")
    if not isinstance(command, str) or not command:
        token = example.get("token") or (cell.tokens[0] if cell.tokens else "")
        command = f"harness replay {token}" if token else ""
    if command:
        lines += ["Replay it:", "", *fenced(command, "console")]
    return lines


def _settings(meta: dict[str, Any]) -> str:
    parts = [
        f"{key} {code(str(meta[key]))}"
        for key in _META_KEYS
        if isinstance(meta.get(key), str | int | float) and not isinstance(meta[key], bool)
    ]
    merged = meta.get("merged_from")
    if isinstance(merged, list):
        parts.append(f"merged from {len(merged)} reports")
    return " · ".join(parts)


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
