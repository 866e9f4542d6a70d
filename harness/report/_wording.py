"""What the Markdown and HTML renderers say the same way, in words.

The headline (unexpected failures apart from the bundled buggy variants'
expected ones), a simulated cell's verdict and coverage (never a flake
rate), a real cell's rate with its Wilson interval, the gate's line and
settings, and the run facts with their units (seconds for ``*_s`` keys).
Plain text only: each renderer adds its own markup and escaping.
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ._format import count, interval, pct, seconds
from ._view import CellView, GateCellView, GateView, Outcome, ReportView


def plural(n: int, word: str, words: str | None = None) -> str:
    """``"1 cell"``, ``"2,995 cells"``."""
    return f"{count(n)} {word if n == 1 else (words or word + 's')}"


def coverage_text(cell: CellView) -> str:
    """What a simulated cell explored: ``"100 schedules, 97 distinct"``,
    ``"exhausted within 2 deviations (412 schedules)"`` (the strategy is a run setting)."""
    cov = cell.coverage
    if cov is None:
        return plural(cell.runs, "schedule")
    if cov.exhausted:
        if cov.bound is None:
            return f"exhausted: all {plural(cov.schedules, 'schedule')}"
        within = f"exhausted within {plural(cov.bound, 'deviation')}"
        return f"{within} ({plural(cov.schedules, 'schedule')})"
    text = plural(cov.schedules, "schedule")
    if cov.distinct is not None:
        text += f", {count(cov.distinct)} distinct"
    return text


def verdict_text(cell: CellView) -> str:
    """A simulated cell's verdict, never a rate: ``"fails: 20 failing schedules"``."""
    if cell.runs == 0:
        return "not run"
    if cell.failing:
        parts = [plural(cell.failures, "failing schedule")] if cell.failures else []
        if cell.crashed:
            parts.append(f"{count(cell.crashed)} crashed")
        if cell.timed_out:
            parts.append(f"{count(cell.timed_out)} timed out")
        return "fails: " + ", ".join(parts)
    return "clean: no failing schedule"


def rate_text(cell: CellView) -> str:
    """A real cell's flake rate with its Wilson interval: ``"2.0 % [0.55 %, 7.0 %]"``."""
    if cell.runs == 0:
        return "no runs"
    return f"{pct(cell.rate)} {interval(cell.ci_low, cell.ci_high)}"


def lost_text(cell: CellView) -> str:
    """``"1 crashed, 2 timed out, 3 never ran"``: runs that did not simply pass or fail."""
    parts = []
    if cell.crashed:
        parts.append(f"{count(cell.crashed)} crashed")
    if cell.timed_out:
        parts.append(f"{count(cell.timed_out)} timed out")
    if cell.never_ran:
        parts.append(f"{count(cell.never_ran)} never ran")
    return ", ".join(parts)


def gate_cell_text(gate: GateCellView) -> str:
    """``"unproven: 2,995 more clean runs"`` / ``"fail"`` / ``"pass"``."""
    if gate.verdict == "unproven":
        if gate.runs_needed is not None:
            return f"unproven: {count(gate.runs_needed)} more clean runs"
        return "unproven"
    return gate.verdict


@dataclass(frozen=True)
class Headline:
    """The report's first line, in words both renderers show (``tone``: bad, warn, good)."""

    tone: str
    title: str
    detail: str


def headline(report: ReportView) -> Headline:
    """Unexpected failures apart from the bundled buggy variants' expected ones."""
    cells = report.cells
    if not cells:
        return Headline("warn", "No cells: nothing was measured.", "")
    tally = report.outcomes()
    unexpected = tally[Outcome.UNEXPECTED]
    total = plural(len(cells), "cell")
    if unexpected:
        title = f"{plural(unexpected, 'unexpected failure')} in {total}"
    else:
        title = f"No unexpected failures in {total}"
    parts = []
    if tally[Outcome.EXPECTED]:
        parts.append(
            f"{count(tally[Outcome.EXPECTED])} failed as expected (bundled buggy variants)"
        )
    if tally[Outcome.PASSED]:
        parts.append(f"{count(tally[Outcome.PASSED])} passed")
    if tally[Outcome.MISSED]:
        parts.append(
            f"{count(tally[Outcome.MISSED])} expected to fail but no failing schedule was found"
        )
    if tally[Outcome.UNSEEN]:
        parts.append(f"{count(tally[Outcome.UNSEEN])} expected to fail, not seen in real runs")
    if tally[Outcome.NOT_RUN]:
        parts.append(f"{count(tally[Outcome.NOT_RUN])} not run")
    detail = "; ".join(parts) + ". " + _runs_sentence(cells)
    warn = tally[Outcome.MISSED] or tally[Outcome.NOT_RUN] or report.interrupted
    warn = warn or any(c.never_ran for c in cells)
    tone = "bad" if unexpected else ("warn" if warn else "good")
    return Headline(tone, title, detail)


def _runs_sentence(cells: Sequence[CellView]) -> str:
    runs = sum(c.runs for c in cells)
    parts = [f"{count(sum(c.failures for c in cells))} failed"]
    for label, n in (
        ("crashed", sum(c.crashed for c in cells)),
        ("timed out", sum(c.timed_out for c in cells)),
        ("never ran", sum(c.never_ran for c in cells)),
    ):
        if n:
            parts.append(f"{count(n)} {label}")
    return f"{plural(runs, 'run')}: {', '.join(parts)}."


def gate_line(gate: GateView) -> str:
    """``"Gate FAILED: 3 fail, 1 unproven, 26 pass (max rate 0.1 %, 95 % confidence, strict)"``."""
    tally = gate.tally()
    word = "passed" if gate.passed else "FAILED"
    counts = ", ".join(f"{count(n)} {verdict}" for verdict, n in tally.items())
    return f"Gate {word}: {counts} ({gate_settings(gate)})"


def gate_settings(gate: GateView) -> str:
    """``"max rate 0.1 %, 95 % confidence, strict, crashes allowed"``."""
    parts = [f"max rate {pct(gate.max_rate)}", f"{gate.confidence * 100:g} % confidence"]
    if gate.strict:
        parts.append("strict: unproven fails")
    if gate.allow_crashes:
        parts.append("crashes allowed")
    if gate.allow_partial:
        parts.append("partial reports allowed")
    return ", ".join(parts)


# ----------------------------------------------------------------- meta
_SECONDS_KEYS = frozenset({"wall_time", "timeout", "duration", "elapsed"})
_FACTS = (
    ("seed", "seed"),
    ("workers", "workers"),
    ("strategy", "strategy"),
    ("mode", "mode"),
    ("timeout", "per-run timeout"),
    ("python", "Python"),
    ("sqlite", "SQLite"),
    ("aiosqlite", "aiosqlite"),
)


def meta_value(key: str, value: Any) -> str:
    """A meta value for people, with its unit: seconds for ``*_s`` keys and known durations."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float) and (key.endswith("_s") or key in _SECONDS_KEYS):
        return seconds(float(value)) if math.isfinite(value) and value >= 0 else str(value)
    if isinstance(value, int):
        return count(value)
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | tuple):
        return ", ".join(meta_value(key, v) for v in value) or "—"
    if isinstance(value, Mapping):
        return "; ".join(f"{k}: {meta_value(str(k), v)}" for k, v in value.items()) or "—"
    return str(value)


def meta_label(key: str) -> str:
    """``"wall_time_s" -> "wall time"`` (the unit goes with the value)."""
    base = key[:-2] if key.endswith("_s") else key
    return base.replace("_", " ")


def run_facts(report: ReportView) -> list[tuple[str, str]]:
    """The few run settings worth a first glance, each with its unit, in a fixed order."""
    meta, plan = report.meta, report.plan or {}
    facts: list[tuple[str, str]] = []
    runs = plan.get("runs_per_cell", meta.get("runs"))
    if isinstance(runs, int) and not isinstance(runs, bool):
        facts.append(("runs per cell", count(runs)))
    for key, label in _FACTS:
        if key in meta and meta[key] not in (None, "", []):
            facts.append((label, meta_value(key, meta[key])))
    wall = meta.get("wall_time_s", meta.get("wall_time"))
    if isinstance(wall, int | float) and not isinstance(wall, bool):
        facts.append(("wall time", meta_value("wall_time_s", wall)))
    if report.harness_version:
        facts.append(("harness", report.harness_version))
    shard = report.shard
    if shard is not None:
        facts.append(("shard", f"{shard[0]} of {shard[1]}"))
    merged = meta.get("merged_from")
    if isinstance(merged, list):
        facts.append(("merged from", plural(len(merged), "report")))
    host = meta.get("hostname", meta.get("host"))
    if isinstance(host, str) and host:
        facts.append(("host", host))
    if isinstance(plan.get("id"), str):
        facts.append(("plan", plan["id"]))
    return facts


def command_of(report: ReportView) -> str | None:
    """The command line that made the report (``meta.command``, a string or an argv list)."""
    command = report.meta.get("command")
    if isinstance(command, list) and all(isinstance(a, str) for a in command):
        return shlex.join(command)
    return command if isinstance(command, str) and command else None
