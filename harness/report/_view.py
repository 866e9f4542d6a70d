"""The report as the Markdown and HTML renderers read it (schema ``harness.flake-report/2``).

Both renderers read a report only through :func:`view`, which takes a
:class:`~harness.report.Report` (through its JSON form, the contract) or that
JSON form itself, and gives frozen views whose field names are exactly the
schema's (``/work/report-schema-v2.md``: ``kind``, ``expected``, ``planned``,
``never_ran``, ``coverage``, ``examples``, ``wall_time_s``, ``gate`` …).
Reading is defensive: a missing or mistyped field gets its neutral default,
never an exception, so any report renders.

It also decides a cell's :class:`Outcome` against its expectation: a
bundled buggy variant that fails is an *expected* failure; only unexpected
ones are ❌. How both renderers word things is in :mod:`._wording`.

Schema 1 data (``wall_time``, one ``example``, no ``kind``/``expected``) is
read too, mapped as ``from_json`` maps it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any

from ._format import count
from .model import Report, to_json
from .stats import wilson

BUGGY_STORES = frozenset({"original", "naive-fix"})
"""Store variants of the bundled scenarios that are meant to fail (schema 1 has no ``expected``)."""


class Outcome(Enum):
    """What a cell's result means against its expectation; the value is the phrase shown."""

    UNEXPECTED = "unexpected failure"
    EXPECTED = "expected failure"
    PASSED = "passed"
    MISSED = "expected to fail, but no failing schedule was found"
    UNSEEN = "expected to fail, not seen in these runs"
    NOT_RUN = "not run"


# ---------------------------------------------------------------- readers
def _get(data: Mapping[str, Any], key: str, kind: type | tuple[type, ...], default: Any) -> Any:
    value = data.get(key, default)
    if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        return default
    return value if isinstance(value, kind) else default


def _int(data: Mapping[str, Any], key: str, default: int = 0) -> int:
    value: int = _get(data, key, int, default)
    return value


def _opt_int(data: Mapping[str, Any], key: str) -> int | None:
    value: int | None = _get(data, key, int, None)
    return value


def _float(data: Mapping[str, Any], key: str, default: float = 0.0) -> float:
    value = _get(data, key, (int, float), default)
    return float(value) if math.isfinite(value) else default


def _str(data: Mapping[str, Any], key: str, default: str = "") -> str:
    value: str = _get(data, key, str, default)
    return value


def _opt_str(data: Mapping[str, Any], key: str) -> str | None:
    value: str | None = _get(data, key, str, None)
    return value or None


def _dict(data: Mapping[str, Any], key: str) -> dict[str, Any] | None:
    value: dict[str, Any] | None = _get(data, key, dict, None)
    return value


def _list(data: Mapping[str, Any], key: str) -> list[Any]:
    value: list[Any] = _get(data, key, list, [])
    return value


# ------------------------------------------------------------------ views
@dataclass(frozen=True)
class ExampleView:
    """One kept example failure (``cells[].examples[]``)."""

    token: str | None
    error: str
    message: str
    traceback: tuple[str, ...]
    seed: int | None
    command: str | None
    crash: str | None
    """``"killed by SIGKILL"`` or ``"exit code 1"`` for a crashed run."""
    events: tuple[Mapping[str, Any], ...]

    @property
    def headline(self) -> str:
        """``"Violation: last writer lost …"`` (the error type alone if there is no message)."""
        if self.error and self.message:
            return f"{self.error}: {self.message}"
        return self.error or self.message or (self.crash or "failure")


@dataclass(frozen=True)
class CoverageView:
    """How much of the schedule space a simulated cell explored."""

    strategy: str | None
    schedules: int
    distinct: int | None
    exhausted: bool
    bound: int | None


@dataclass(frozen=True)
class GateCellView:
    """The gate's verdict on one cell."""

    verdict: str
    reason: str
    runs_needed: int | None
    replay: str | None


@dataclass(frozen=True)
class CellView:
    """One cell, with the schema's field names."""

    name: str
    store: str
    mode: str
    kind: str
    expected: str | None
    planned: int
    runs: int
    passed: int
    failures: int
    crashed: int
    timed_out: int
    never_ran: int
    rate: float
    ci_low: float
    ci_high: float
    errors: tuple[tuple[str, int], ...]
    tokens: tuple[str, ...]
    coverage: CoverageView | None
    examples: tuple[ExampleView, ...]
    wall_time_s: float
    gate: GateCellView | None

    @property
    def id(self) -> str:
        """``name/store/mode``, how a cell is named in every output."""
        return f"{self.name}/{self.store}/{self.mode}"

    @property
    def label(self) -> str:
        """``name/store`` (``name`` alone for a user's test, whose store is ``-``)."""
        return self.name if self.store in ("", "-") else f"{self.name}/{self.store}"

    @property
    def simulated(self) -> bool:
        return self.kind != "real"

    @property
    def failing(self) -> int:
        """Runs that count as failing: failures, crashed and timed-out runs."""
        return self.failures + self.crashed + self.timed_out

    @property
    def outcome(self) -> Outcome:
        if self.runs == 0:
            return Outcome.NOT_RUN
        if self.failing:
            return Outcome.EXPECTED if self.expected == "fail" else Outcome.UNEXPECTED
        if self.expected == "fail":
            return Outcome.MISSED if self.simulated else Outcome.UNSEEN
        return Outcome.PASSED

    @property
    def replay_command(self) -> str | None:
        """The command that re-runs this cell's first failure.

        For a simulated cell it replays ``tokens[0]`` (the first shrunk token),
        through the command of the example holding that token when there is
        one (a user's test replays through pytest); for a real cell it is
        the first example's command (its seed).
        """
        if self.tokens:
            first = self.tokens[0]
            for example in self.examples:
                if example.token == first and example.command and first in example.command:
                    return example.command
            return f"harness replay {first}"
        return next((e.command for e in self.examples if e.command), None)

    def top_errors(self, limit: int = 2) -> str:
        """``"Violation (18), OperationalError (2)"`` (``"+N more"`` past ``limit``)."""
        if not self.errors:
            return ""
        shown = [f"{name} ({count(n)})" for name, n in self.errors[:limit]]
        rest = len(self.errors) - limit
        if rest > 0:
            shown.append(f"+{rest} more")
        return ", ".join(shown)


@dataclass(frozen=True)
class GateView:
    """The verdict ``harness gate`` wrote into the report."""

    max_rate: float
    confidence: float
    strict: bool
    allow_crashes: bool
    allow_partial: bool
    passed: bool
    cells: tuple[tuple[tuple[str, str, str], GateCellView], ...]

    def tally(self) -> dict[str, int]:
        """Cells per verdict, ``{"fail": 3, "unproven": 1, "pass": 26}``."""
        out = {"fail": 0, "unproven": 0, "pass": 0}
        for _, cell in self.cells:
            out[cell.verdict] = out.get(cell.verdict, 0) + 1
        return out


@dataclass(frozen=True)
class ReportView:
    """The whole report, with the schema's field names."""

    schema: str
    created: str
    harness_version: str | None
    meta: Mapping[str, Any]
    plan: Mapping[str, Any] | None
    interrupted: bool
    interrupted_by: str | None
    cells: tuple[CellView, ...]
    gate: GateView | None

    def outcomes(self) -> dict[Outcome, int]:
        out = dict.fromkeys(Outcome, 0)
        for cell in self.cells:
            out[cell.outcome] += 1
        return out

    @property
    def shard(self) -> tuple[int, int] | None:
        """``(index, count)`` of a shard of a bigger plan; ``None`` for a whole plan."""
        raw = self.plan.get("shard") if self.plan else None
        if isinstance(raw, Mapping):
            index, total = raw.get("index"), raw.get("count")
            if isinstance(index, int) and isinstance(total, int) and total > 1:
                return index, total
            return None
        text = self.meta.get("shard")
        if isinstance(text, str) and text.count("/") == 1:
            left, right = text.split("/")
            if left.isdigit() and right.isdigit() and int(right) > 1:
                return int(left), int(right)
        return None


# ----------------------------------------------------------------- build
def view(report: Report | Mapping[str, Any]) -> ReportView:
    """The view of ``report`` (a :class:`Report` or its JSON form)."""
    data: Mapping[str, Any] = report if isinstance(report, Mapping) else to_json(report)
    meta = _dict(data, "meta") or {}
    gate = _gate(_dict(data, "gate"))
    verdicts = dict(gate.cells) if gate else {}
    cells = []
    for raw in _list(data, "cells"):
        if isinstance(raw, Mapping):
            cell = _cell(raw)
            cells.append(_with_gate(cell, verdicts.get((cell.name, cell.store, cell.mode))))
    interrupted = data.get("interrupted", meta.get("interrupted"))
    return ReportView(
        schema=_str(data, "schema"),
        created=_str(data, "created"),
        harness_version=_opt_str(data, "harness_version") or _opt_str(meta, "harness"),
        meta=meta,
        plan=_dict(data, "plan"),
        interrupted=interrupted is True,
        interrupted_by=_opt_str(data, "interrupted_by"),
        cells=tuple(cells),
        gate=gate,
    )


def _with_gate(cell: CellView, gate: GateCellView | None) -> CellView:
    return cell if gate is None else replace(cell, gate=gate)


def _cell(data: Mapping[str, Any]) -> CellView:
    mode = _str(data, "mode", "?")
    store = _str(data, "store", "?")
    runs, failures = max(_int(data, "runs"), 0), max(_int(data, "failures"), 0)
    crashed, timed_out = max(_int(data, "crashed"), 0), max(_int(data, "timed_out"), 0)
    failing = min(failures + crashed + timed_out, runs)
    low, high = wilson(failing, runs)
    expected = data.get("expected", _legacy_expected(store) if "kind" not in data else None)
    errors = _dict(data, "errors") or {}
    ranked = sorted(
        ((str(k), v) for k, v in errors.items() if isinstance(v, int) and v > 0),
        key=lambda kv: (-kv[1], kv[0]),
    )
    examples = [e for e in _list(data, "examples") if isinstance(e, Mapping)]
    tokens = [t for t in _list(data, "tokens") if isinstance(t, str) and t]
    legacy = _dict(data, "example")
    if not examples and legacy is not None:
        examples = [legacy]
        shrunk = _opt_str(legacy, "token")
        if legacy.get("shrunk") is True and shrunk:
            tokens = [shrunk]  # schema 1 kept the unshrunk tokens; show the shrunk one only
    planned = _int(data, "planned", runs)
    return CellView(
        name=_str(data, "name", "?"),
        store=store,
        mode=mode,
        kind=_str(data, "kind", "real" if mode == "real" else "simulated"),
        expected=expected if expected in ("fail", "pass") else None,
        planned=planned,
        runs=runs,
        passed=_int(data, "passed", max(runs - failing, 0)),
        failures=failures,
        crashed=crashed,
        timed_out=timed_out,
        never_ran=_int(data, "never_ran", max(planned - runs, 0)),
        rate=_float(data, "rate", failing / runs if runs else 0.0),
        ci_low=_float(data, "ci_low", low),
        ci_high=_float(data, "ci_high", high),
        errors=tuple(ranked),
        tokens=tuple(tokens),
        coverage=_coverage(_dict(data, "coverage")),
        examples=tuple(_example(e) for e in examples),
        wall_time_s=_float(data, "wall_time_s", _float(data, "wall_time")),
        gate=None,
    )


def _legacy_expected(store: str) -> str | None:
    """Schema 1 has no ``expected``: the bundled buggy variants are meant to fail."""
    if store in BUGGY_STORES:
        return "fail"
    return "pass" if store == "reference" else None


def _coverage(data: Mapping[str, Any] | None) -> CoverageView | None:
    if data is None:
        return None
    return CoverageView(
        strategy=_opt_str(data, "strategy"),
        schedules=_int(data, "schedules"),
        distinct=_opt_int(data, "distinct"),
        exhausted=data.get("exhausted") is True,
        bound=_opt_int(data, "bound"),
    )


def _example(data: Mapping[str, Any]) -> ExampleView:
    error, message = _str(data, "error"), _str(data, "message")
    if not message and ": " in error and error.split(": ", 1)[0].replace(".", "").isidentifier():
        error, message = error.split(": ", 1)  # schema 1: "Type: message" in one string
    crash = _dict(data, "crash")
    crash_text = None
    if crash is not None:
        if isinstance(crash.get("signal"), str):
            crash_text = f"killed by {crash['signal']}"
        elif isinstance(crash.get("exit_code"), int):
            crash_text = f"exit code {crash['exit_code']}"
        else:
            crash_text = "the worker died"
    return ExampleView(
        token=_opt_str(data, "token"),
        error=error,
        message=message,
        traceback=tuple(str(line) for line in _list(data, "traceback")),
        seed=_opt_int(data, "seed"),
        command=_opt_str(data, "command"),
        crash=crash_text,
        events=tuple(e for e in _list(data, "events") if isinstance(e, Mapping)),
    )


def _gate(data: Mapping[str, Any] | None) -> GateView | None:
    if data is None:
        return None
    cells = []
    for raw in _list(data, "cells"):
        if not isinstance(raw, Mapping):
            continue
        key = (_str(raw, "name"), _str(raw, "store"), _str(raw, "mode"))
        cells.append(
            (
                key,
                GateCellView(
                    verdict=_str(raw, "verdict", "?"),
                    reason=_str(raw, "reason"),
                    runs_needed=_opt_int(raw, "runs_needed"),
                    replay=_opt_str(raw, "replay"),
                ),
            )
        )
    return GateView(
        max_rate=_float(data, "max_rate"),
        confidence=_float(data, "confidence", 0.95),
        strict=data.get("strict") is True,
        allow_crashes=data.get("allow_crashes") is True,
        allow_partial=data.get("allow_partial") is True,
        passed=data.get("passed") is True,
        cells=tuple(cells),
    )
