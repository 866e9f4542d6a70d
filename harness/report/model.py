"""The flake-report model: plan, cells, examples, and the versioned JSON form.

``DESIGN.md`` §8 (amended) and ``report-schema-v2`` are the contract; the
JSON field names are the attribute names here. A :class:`Report` has a
:class:`Plan` (what was asked for: its id, runs per cell, the cells, the
shard), whether a signal ended it early, one :class:`Cell` per (scenario or
test, store variant, mode), and — once ``harness gate`` judged it — the
gate's verdict.

A cell accounts for every planned run::

    planned = runs + never_ran
    runs    = passed + failures + crashed + timed_out

``passed``, ``never_ran``, ``rate``, ``ci_low`` and ``ci_high`` are derived:
written for readers, recomputed (never trusted) when a report is read.
``rate`` and the Wilson interval count ``failures + crashed + timed_out`` as
failing runs. A *simulated* cell's runs are schedules a strategy drew (its
rate is the share of those schedules that fail, not a flake rate); a *real*
cell's runs are repetitions on real threads and real timing.

``stopped`` says why a cell has fewer runs than the plan's ``runs_per_cell``
although nothing was lost: ``"exhausted"`` (a bounded-exhaustive strategy
covered its whole space), ``"decided"`` (``--until-decided``: the verdict
was certain) or ``"first-failure"`` (a simulated cell stopped at a
confirmed failure under ``--until-decided``). Its ``planned`` is then what
the run needed, so the identities above hold for every cell.

Invariants (checked on construction, so also by :func:`from_json`): counts
are ``>= 0``, ``failures + crashed + timed_out <= runs <= planned``, at most
:data:`MAX_TOKENS` tokens and :data:`MAX_EXAMPLES` examples per cell, and
``from_json(to_json(r)) == r``. Schema ``harness.flake-report/1`` is read
and mapped (``wall_time`` → ``wall_time_s``, ``example`` → ``examples[0]``,
missing counts → 0, ``kind`` from ``mode``, v1's timed-out runs leave
``failures``, v1's crashed runs join ``runs``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .stats import wilson

SCHEMA = "harness.flake-report/2"
SCHEMA_V1 = "harness.flake-report/1"
READABLE = (SCHEMA, SCHEMA_V1)
KINDS = ("simulated", "real")
EXPECTED = (None, "pass", "fail")
STOPPED = (None, "exhausted", "decided", "first-failure")
MAX_TOKENS = 10
"""Replay tokens a cell keeps: those of its first examples."""
MAX_EXAMPLES = 10
"""Example failures a cell keeps, the first failures (by run index) first."""


class ReportError(ValueError):
    """A report that cannot be read, validated, merged or written (one-line message)."""


def utc_now() -> str:
    """The current time as ISO-8601 UTC, to the second: ``2024-05-01T12:00:00Z``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def kind_of(mode: str) -> str:
    """The kind a mode implies: ``sim`` runs are schedules, anything else real runs."""
    return "simulated" if mode == "sim" else "real"


def _harness_version() -> str:
    try:
        from harness import __version__
    except ImportError:  # pragma: no cover - a partial install
        return "?"
    return str(__version__)


@dataclass
class Cell:
    """Every planned run of one (name, store, mode) and how it ended (see the module docstring).

    ``coverage`` (simulated cells) is ``{"strategy", "schedules", "distinct",
    "exhausted", "bound"}``; ``examples`` are dicts with the schema's keys
    (``token``, ``error``, ``message``, ``traceback``, ``seed``, ``command``,
    ``crash``, ``events``, ``run``, ``shrunk``); unknown keys are kept.
    """

    name: str
    store: str
    mode: str
    runs: int = 0
    failures: int = 0
    crashed: int = 0
    timed_out: int = 0
    planned: int | None = None
    """Runs the plan asked for; ``None`` on construction means ``runs``."""
    kind: str | None = None
    """``"simulated"`` or ``"real"``; ``None`` on construction means from ``mode``."""
    expected: str | None = None
    errors: dict[str, int] = field(default_factory=dict)
    tokens: list[str] = field(default_factory=list)
    coverage: dict[str, Any] | None = None
    examples: list[dict[str, Any]] = field(default_factory=list)
    wall_time_s: float = 0.0
    stopped: str | None = None

    def __post_init__(self) -> None:
        where = f"cell {self.name}/{self.store}/{self.mode}"
        if self.planned is None:
            self.planned = self.runs
        if self.kind is None:
            self.kind = kind_of(self.mode)
        for label in ("runs", "failures", "crashed", "timed_out", "planned"):
            value = getattr(self, label)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ReportError(f"{where}: {label} must be an integer >= 0, got {value!r}")
        if self.failing > self.runs:
            raise ReportError(
                f"{where}: failures + crashed + timed_out ({self.failing}) exceed runs "
                f"({self.runs})"
            )
        if self.runs > self.planned:
            raise ReportError(f"{where}: runs ({self.runs}) exceed planned ({self.planned})")
        if self.kind not in KINDS:
            raise ReportError(f"{where}: kind must be one of {', '.join(KINDS)}")
        if self.expected not in EXPECTED:
            raise ReportError(f"{where}: expected must be 'pass', 'fail' or null")
        if self.stopped not in STOPPED:
            raise ReportError(f"{where}: stopped must be one of {STOPPED[1:]} or null")
        if not math.isfinite(self.wall_time_s) or self.wall_time_s < 0:
            raise ReportError(f"{where}: wall_time_s must be a finite number >= 0")
        for error, n in self.errors.items():
            if not isinstance(n, int) or isinstance(n, bool) or n < 0:
                raise ReportError(f"{where}: errors[{error!r}] must be an integer >= 0")
        self.tokens = list(self.tokens[:MAX_TOKENS])
        self.examples = list(self.examples[:MAX_EXAMPLES])

    # ----------------------------------------------------------- derived
    @property
    def key(self) -> tuple[str, str, str]:
        """``(name, store, mode)``: what identifies a cell across shards."""
        return self.name, self.store, self.mode

    @property
    def failing(self) -> int:
        """Runs that did not pass: failures, crashed and timed-out runs."""
        return self.failures + self.crashed + self.timed_out

    @property
    def passed(self) -> int:
        return self.runs - self.failing

    @property
    def never_ran(self) -> int:
        """Planned runs that did not run (an interrupt, lost workers, one shard)."""
        assert self.planned is not None
        return self.planned - self.runs

    @property
    def rate(self) -> float:
        """``failing / runs``; 0.0 when there were no runs."""
        return self.failing / self.runs if self.runs else 0.0

    @property
    def ci_low(self) -> float:
        """Lower bound of the Wilson 95 % interval of :attr:`rate`."""
        return wilson(self.failing, self.runs)[0]

    @property
    def ci_high(self) -> float:
        """Upper bound of the Wilson 95 % interval of :attr:`rate`."""
        return wilson(self.failing, self.runs)[1]

    @property
    def simulated(self) -> bool:
        return self.kind == "simulated"

    # ---------------------------------------------- schema-1 compatibility
    @property
    def example(self) -> dict[str, Any] | None:
        """The first example (schema 1 had one ``example`` per cell)."""
        return self.examples[0] if self.examples else None

    @property
    def wall_time(self) -> float:
        """Schema 1's name for :attr:`wall_time_s`."""
        return self.wall_time_s


@dataclass
class Plan:
    """What a stress run was asked to measure.

    ``id`` is a digest of everything that decides the results (cells, runs
    per cell, seed, strategy, ...) but not of the shard, so the shards of one
    plan share it. ``shard`` is ``None`` for a whole plan, else
    ``{"index": I, "count": N, "indices": [I]}``; a merge of some (not all)
    shards has ``"index": None`` and the merged ``indices``.
    """

    id: str
    runs_per_cell: int
    cells: list[tuple[str, str, str]] = field(default_factory=list)
    shard: dict[str, Any] | None = None

    @property
    def shard_indices(self) -> list[int]:
        if self.shard is None:
            return []
        return [int(i) for i in self.shard.get("indices") or [self.shard["index"]]]

    @property
    def partial(self) -> bool:
        """Whether this report holds only some shards of its plan."""
        return self.shard is not None and len(self.shard_indices) < int(self.shard["count"])


def shard_of(indices: list[int], count: int) -> dict[str, Any] | None:
    """The ``shard`` of a report holding ``indices`` of ``count`` shards (None: all)."""
    indices = sorted(set(indices))
    if indices == list(range(1, count + 1)):
        return None
    return {"index": indices[0] if len(indices) == 1 else None, "count": count, "indices": indices}


@dataclass
class Report:
    """A flake-rate report (see the module docstring).

    ``meta`` records how the report was made (command, seed, workers,
    versions, host, ``wall_time_s``, ...); a merged report has
    ``meta["merged_from"]``, the inputs' meta.
    """

    cells: list[Cell] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    created: str = field(default_factory=utc_now)
    schema: str = SCHEMA
    harness_version: str = field(default_factory=_harness_version)
    plan: Plan | None = None
    interrupted: bool = False
    interrupted_by: str | None = None
    gate: dict[str, Any] | None = None

    @property
    def planned(self) -> int:
        return sum(c.planned or 0 for c in self.cells)

    @property
    def never_ran(self) -> int:
        return sum(c.never_ran for c in self.cells)


# ------------------------------------------------------------------ JSON
def to_json(report: Report) -> dict[str, Any]:
    """The JSON-ready dict of ``report``, always in schema 2."""
    plan = report.plan
    return {
        "schema": SCHEMA,
        "created": report.created,
        "harness_version": report.harness_version,
        "meta": report.meta,
        "plan": None
        if plan is None
        else {
            "id": plan.id,
            "runs_per_cell": plan.runs_per_cell,
            "cells": [list(c) for c in plan.cells],
            "shard": plan.shard,
        },
        "interrupted": report.interrupted,
        "interrupted_by": report.interrupted_by,
        "cells": [cell_to_json(c) for c in report.cells],
        "gate": report.gate,
    }


def cell_to_json(cell: Cell) -> dict[str, Any]:
    low, high = wilson(cell.failing, cell.runs)
    return {
        "name": cell.name,
        "store": cell.store,
        "mode": cell.mode,
        "kind": cell.kind,
        "expected": cell.expected,
        "planned": cell.planned,
        "runs": cell.runs,
        "passed": cell.passed,
        "failures": cell.failures,
        "crashed": cell.crashed,
        "timed_out": cell.timed_out,
        "never_ran": cell.never_ran,
        "rate": cell.rate,
        "ci_low": low,
        "ci_high": high,
        "errors": dict(cell.errors),
        "tokens": list(cell.tokens),
        "coverage": cell.coverage,
        "examples": list(cell.examples),
        "wall_time_s": cell.wall_time_s,
        "stopped": cell.stopped,
    }


def from_json(data: Any) -> Report:
    """Validate ``data`` (parsed JSON, schema 2 or 1) and build the :class:`Report`.

    Raises :class:`ReportError` (one line) for a missing or unknown schema, a
    field of the wrong type or counts that do not add up.
    """
    if not isinstance(data, dict):
        raise ReportError(f"a report must be a JSON object, got {_kind(data)}")
    if "schema" not in data:
        raise ReportError("not a flake report: the 'schema' field is missing")
    schema = data["schema"]
    if schema not in READABLE:
        raise ReportError(
            f"unknown report schema {schema!r} (this harness reads {', '.join(READABLE)})"
        )
    v1 = schema == SCHEMA_V1
    top = _Fields(data, "report")
    meta = top.get("meta", dict, {})
    cells = top.get("cells", list)
    report = Report(
        cells=[_cell_from_json(c, i, v1) for i, c in enumerate(cells)],
        meta=dict(meta),
        created=top.get("created", str, ""),
        schema=schema,
        harness_version=top.get("harness_version", str, str(meta.get("harness", "?"))),
    )
    if v1:
        report.interrupted = meta.get("interrupted") is True
        if isinstance(meta.get("wall_time"), (int, float)):
            report.meta.setdefault("wall_time_s", meta["wall_time"])
        return report
    report.plan = _plan_from_json(top.get("plan", (dict, type(None)), None))
    report.interrupted = top.get("interrupted", bool, False)
    report.interrupted_by = top.get("interrupted_by", (str, type(None)), None)
    report.gate = top.get("gate", (dict, type(None)), None)
    return report


class _Fields:
    """Typed access to one JSON object's fields, with errors that name the place."""

    def __init__(self, data: Mapping[str, Any], where: str) -> None:
        self.data = data
        self.where = where

    def get(self, key: str, kinds: type | tuple[type, ...], default: Any = ...) -> Any:
        if key not in self.data:
            if default is ...:
                raise ReportError(f"{self.where}: missing field {key!r}")
            return default
        value = self.data[key]
        allowed = kinds if isinstance(kinds, tuple) else (kinds,)
        if isinstance(value, bool) and bool not in allowed:
            raise ReportError(f"{self.where}.{key} must not be a boolean")
        if not isinstance(value, allowed):
            raise ReportError(f"{self.where}.{key} has the wrong type ({_kind(value)})")
        return value

    def count(self, key: str, default: Any = ...) -> int:
        value = self.get(key, int, default)
        if value < 0:
            raise ReportError(f"{self.where}.{key} must be >= 0, got {value}")
        return int(value)


def _plan_from_json(data: dict[str, Any] | None) -> Plan | None:
    if data is None:
        return None
    f = _Fields(data, "plan")
    cells = f.get("cells", list, [])
    keys: list[tuple[str, str, str]] = []
    for c in cells:
        if not (isinstance(c, list) and len(c) == 3 and all(isinstance(x, str) for x in c)):
            raise ReportError("plan.cells must be a list of [name, store, mode]")
        keys.append((c[0], c[1], c[2]))
    shard = f.get("shard", (dict, type(None)), None)
    if shard is not None:
        count = _Fields(shard, "plan.shard").count("count")
        indices = shard.get("indices", [shard.get("index")])
        if (
            count < 1
            or not isinstance(indices, list)
            or not indices
            or not all(isinstance(i, int) and not isinstance(i, bool) for i in indices)
            or not all(1 <= i <= count for i in indices)
        ):
            raise ReportError("plan.shard must name shard indices between 1 and its count")
        shard = {"index": shard.get("index"), "count": count, "indices": sorted(set(indices))}
    return Plan(
        id=f.get("id", str),
        runs_per_cell=f.count("runs_per_cell", 0),
        cells=keys,
        shard=shard,
    )


_V1_EXPECTED = {"original": "fail", "naive-fix": "fail", "reference": "pass"}
"""Schema 1 had no ``expected``: the bundled store variants say it by their names."""


def _cell_from_json(data: Any, index: int, v1: bool) -> Cell:
    where = f"cells[{index}]"
    if not isinstance(data, dict):
        raise ReportError(f"{where} must be an object, got {_kind(data)}")
    f = _Fields(data, where)
    tokens = f.get("tokens", list, [])
    if not all(isinstance(t, str) for t in tokens):
        raise ReportError(f"{where}.tokens must be a list of strings")
    errors = f.get("errors", dict, {})
    if not all(isinstance(n, int) and not isinstance(n, bool) for n in errors.values()):
        raise ReportError(f"{where}.errors must map error names to counts")
    runs, failures = f.count("runs"), f.count("failures")
    crashed, timed_out = f.count("crashed", 0), f.count("timed_out", 0)
    if v1:
        examples = _examples(f.get("example", (dict, type(None)), None), where)
        shrunk = [e["token"] for e in examples if isinstance(e.get("token"), str)]
        tokens = shrunk or tokens  # schema 2 keeps shrunk tokens only; v1's example was shrunk
        failures -= min(timed_out, failures)  # v1 counted a timed-out run as a failure too
        runs += crashed  # ... and a crashed run not as a run
        wall = f.get("wall_time", (int, float), 0.0)
        return Cell(
            name=f.get("name", str),
            store=f.get("store", str),
            mode=f.get("mode", str),
            runs=runs,
            failures=failures,
            crashed=crashed,
            timed_out=timed_out,
            errors=dict(errors),
            tokens=tokens,
            examples=examples,
            wall_time_s=float(wall),
            expected=_V1_EXPECTED.get(f.get("store", str)),
        )
    examples = f.get("examples", list, [])
    if not all(isinstance(e, dict) for e in examples):
        raise ReportError(f"{where}.examples must be a list of objects")
    wall = f.get("wall_time_s", (int, float), 0.0)
    if not math.isfinite(wall):
        raise ReportError(f"{where}.wall_time_s must be a finite number")
    return Cell(
        name=f.get("name", str),
        store=f.get("store", str),
        mode=f.get("mode", str),
        runs=runs,
        failures=failures,
        crashed=crashed,
        timed_out=timed_out,
        planned=f.count("planned", runs),
        kind=f.get("kind", str, kind_of(f.get("mode", str))),
        expected=f.get("expected", (str, type(None)), None),
        errors=dict(errors),
        tokens=tokens,
        coverage=f.get("coverage", (dict, type(None)), None),
        examples=list(examples),
        wall_time_s=float(wall),
        stopped=f.get("stopped", (str, type(None)), None),
    )


def _examples(example: dict[str, Any] | None, where: str) -> list[dict[str, Any]]:
    """Schema 1's single ``example`` (``"error": "Type: message"``) as schema 2's list."""
    if example is None:
        return []
    converted = dict(example)
    error = converted.get("error")
    if isinstance(error, str) and "message" not in converted:
        kind, sep, message = error.partition(": ")
        converted["error"] = kind if sep else error
        converted["message"] = message if sep else ""
    return [converted]


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    return names.get(type(value), f"a {type(value).__name__}")
