"""The flake-rate report: cells, the versioned JSON form, and merging.

A report has one :class:`Cell` per (scenario or test, store variant, mode).
The JSON form (``DESIGN.md`` §8) is the contract other tools read::

    {"schema": "harness.flake-report/1", "created": "...", "meta": {...},
     "cells": [{"name", "store", "mode", "runs", "failures", "rate",
                "ci_low", "ci_high", "tokens", "wall_time", "errors",
                "crashed", "timed_out", "example"}]}

``rate``, ``ci_low`` and ``ci_high`` are derived (Wilson 95 %): they are
written for readers and recomputed, never trusted, when a report is read.

Invariants:

* every :class:`Cell` satisfies ``0 <= failures <= runs`` and keeps at most
  :data:`MAX_TOKENS` tokens (checked on construction, so also by
  :func:`from_json`);
* ``from_json(to_json(r)) == r`` for every report;
* :func:`merge` is associative and order-stable: cells appear in the order
  of their first appearance, counts are summed, the first tokens and the
  first example win. (``wall_time`` is a float sum, so it is associative up
  to float rounding.) It is a pure function: ``created`` is the latest of
  the inputs', not the time of the merge.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .stats import wilson

SCHEMA = "harness.flake-report/1"
MAX_TOKENS = 10
"""How many replay tokens a cell keeps (the first failures')."""


class ReportError(ValueError):
    """A report that cannot be read, validated or merged (one-line message)."""


def utc_now() -> str:
    """The current time as ISO-8601 UTC, to the second: ``2024-05-01T12:00:00Z``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Cell:
    """Runs and failures of one (name, store, mode) combination.

    ``example`` is an example failure for the swimlane:
    ``{"token", "error", "command", "events": [{"step", "time", "actor",
    "kind", "text", "deviation"}, ...]}``; unknown keys are kept as they are.
    """

    name: str
    store: str
    mode: str
    runs: int
    failures: int
    tokens: list[str] = field(default_factory=list)
    wall_time: float = 0.0
    errors: dict[str, int] = field(default_factory=dict)
    crashed: int = 0
    timed_out: int = 0
    example: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        where = f"cell {self.name}/{self.store}/{self.mode}"
        for label in ("runs", "failures", "crashed", "timed_out"):
            if getattr(self, label) < 0:
                raise ReportError(f"{where}: {label} must be >= 0, got {getattr(self, label)}")
        if self.failures > self.runs:
            raise ReportError(f"{where}: failures ({self.failures}) exceed runs ({self.runs})")
        if not math.isfinite(self.wall_time) or self.wall_time < 0:
            raise ReportError(f"{where}: wall_time must be a finite number >= 0")
        for error, n in self.errors.items():
            if n < 0:
                raise ReportError(f"{where}: errors[{error!r}] must be >= 0, got {n}")
        self.tokens = list(self.tokens[:MAX_TOKENS])

    @property
    def key(self) -> tuple[str, str, str]:
        """``(name, store, mode)``: what identifies a cell across shards."""
        return self.name, self.store, self.mode

    @property
    def rate(self) -> float:
        """``failures / runs``; 0.0 when there were no runs."""
        return self.failures / self.runs if self.runs else 0.0

    @property
    def ci_low(self) -> float:
        """Lower bound of the Wilson 95 % interval."""
        return wilson(self.failures, self.runs)[0]

    @property
    def ci_high(self) -> float:
        """Upper bound of the Wilson 95 % interval."""
        return wilson(self.failures, self.runs)[1]


@dataclass
class Report:
    """A flake-rate report: cells in display order plus free-form ``meta``.

    ``meta`` records how the report was made (command line, seed, runs,
    workers, shard, versions, hostname...); a merged report has
    ``meta["merged_from"]``, the list of the inputs' meta.
    """

    cells: list[Cell] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    created: str = field(default_factory=utc_now)
    schema: str = SCHEMA


# ------------------------------------------------------------------ JSON
def to_json(report: Report) -> dict[str, Any]:
    """The JSON-ready dict of ``report`` (see the module docstring)."""
    return {
        "schema": report.schema,
        "created": report.created,
        "meta": report.meta,
        "cells": [_cell_to_json(c) for c in report.cells],
    }


def _cell_to_json(cell: Cell) -> dict[str, Any]:
    low, high = wilson(cell.failures, cell.runs)
    return {
        "name": cell.name,
        "store": cell.store,
        "mode": cell.mode,
        "runs": cell.runs,
        "failures": cell.failures,
        "rate": cell.rate,
        "ci_low": low,
        "ci_high": high,
        "tokens": list(cell.tokens),
        "wall_time": cell.wall_time,
        "errors": dict(cell.errors),
        "crashed": cell.crashed,
        "timed_out": cell.timed_out,
        "example": cell.example,
    }


def from_json(data: Any) -> Report:
    """Validate ``data`` (parsed JSON) and build the :class:`Report`.

    Raises :class:`ReportError` for a missing or unknown schema, a field of
    the wrong type, a negative count or ``failures > runs``. Derived fields
    (``rate``, ``ci_low``, ``ci_high``) and unknown cell fields are ignored.
    """
    if not isinstance(data, dict):
        raise ReportError(f"a report must be a JSON object, got {_kind(data)}")
    if "schema" not in data:
        raise ReportError("not a flake report: the 'schema' field is missing")
    if data["schema"] != SCHEMA:
        raise ReportError(f"unknown report schema {data['schema']!r} (expected {SCHEMA!r})")
    created = data.get("created", "")
    if not isinstance(created, str):
        raise ReportError(f"'created' must be a string, got {_kind(created)}")
    meta = data.get("meta", {})
    if not isinstance(meta, dict):
        raise ReportError(f"'meta' must be an object, got {_kind(meta)}")
    cells = data.get("cells")
    if not isinstance(cells, list):
        raise ReportError(f"'cells' must be a list, got {_kind(cells)}")
    return Report(
        cells=[_cell_from_json(c, i) for i, c in enumerate(cells)],
        meta=meta,
        created=created,
    )


def _cell_from_json(data: Any, index: int) -> Cell:
    where = f"cells[{index}]"
    if not isinstance(data, dict):
        raise ReportError(f"{where} must be an object, got {_kind(data)}")

    def get(key: str, kinds: type | tuple[type, ...], default: Any = None) -> Any:
        if key not in data:
            if default is None:
                raise ReportError(f"{where}: missing field {key!r}")
            return default
        value = data[key]
        if isinstance(value, bool) and bool not in _as_tuple(kinds):
            raise ReportError(f"{where}.{key} must not be a boolean")
        if not isinstance(value, kinds):
            raise ReportError(f"{where}.{key} has the wrong type ({_kind(value)})")
        return value

    tokens = get("tokens", list, [])
    if not all(isinstance(t, str) for t in tokens):
        raise ReportError(f"{where}.tokens must be a list of strings")
    errors = get("errors", dict, {})
    if not all(isinstance(n, int) and not isinstance(n, bool) for n in errors.values()):
        raise ReportError(f"{where}.errors must map error names to counts")
    example = data.get("example")
    if example is not None and not isinstance(example, dict):
        raise ReportError(f"{where}.example must be an object or null, got {_kind(example)}")
    return Cell(
        name=get("name", str),
        store=get("store", str),
        mode=get("mode", str),
        runs=get("runs", int),
        failures=get("failures", int),
        tokens=tokens,
        wall_time=float(get("wall_time", (int, float), 0.0)),
        errors=errors,
        crashed=get("crashed", int, 0),
        timed_out=get("timed_out", int, 0),
        example=example,
    )


def _as_tuple(kinds: type | tuple[type, ...]) -> tuple[type, ...]:
    return kinds if isinstance(kinds, tuple) else (kinds,)


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    return names.get(type(value), f"a {type(value).__name__}")


def load(path: str | os.PathLike[str]) -> Report:
    """Read a report file; :class:`ReportError` (naming the file) if it is unusable."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ReportError(f"cannot read report {os.fspath(path)}: {reason}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReportError(
            f"{os.fspath(path)} is not valid JSON (line {exc.lineno}, column {exc.colno})"
        ) from None
    try:
        return from_json(data)
    except ReportError as exc:
        raise ReportError(f"{os.fspath(path)}: {exc}") from None


def save_json(report: Report, path: str | os.PathLike[str]) -> None:
    """Write ``report`` as indented JSON; atomic (a temporary file is renamed into place)."""
    target = Path(path)
    text = json.dumps(to_json(report), indent=2, ensure_ascii=False, allow_nan=False)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    temporary.write_text(text + "\n", encoding="utf-8")
    os.replace(temporary, target)


# ----------------------------------------------------------------- merge
def merge(reports: Sequence[Report]) -> Report:
    """Combine shards or machines into one report.

    Cells with the same ``(name, store, mode)`` are combined: runs,
    failures, wall time, crashed, timed out and error counts are summed;
    tokens are concatenated in input order, deduplicated and cut to
    :data:`MAX_TOKENS`; the first non-null example is kept. ``meta`` holds
    ``merged_from`` (the inputs' meta, flattened through earlier merges) and
    the entries all those inputs agree on, so ``merge([merge([a, b]), c]) ==
    merge([a, merge([b, c])])``. Raises :class:`ReportError` for no input or
    for inputs with different schemas.
    """
    if not reports:
        raise ReportError("nothing to merge: no reports given")
    schemas = list(dict.fromkeys(r.schema for r in reports))
    if len(schemas) > 1:
        listed = ", ".join(repr(s) for s in schemas)
        raise ReportError(f"cannot merge reports with different schemas: {listed}")
    if schemas[0] != SCHEMA:
        raise ReportError(f"cannot merge reports with unknown schema {schemas[0]!r}")
    cells: dict[tuple[str, str, str], Cell] = {}
    for report in reports:
        for cell in report.cells:
            seen = cells.get(cell.key)
            cells[cell.key] = _copy(cell) if seen is None else _combine(seen, cell)
    sources = [m for r in reports for m in _sources(r.meta)]
    return Report(
        cells=list(cells.values()),
        meta={**_common(sources), "merged_from": sources},
        created=max(r.created for r in reports),
        schema=SCHEMA,
    )


def _copy(cell: Cell) -> Cell:
    return _combine(Cell(cell.name, cell.store, cell.mode, 0, 0), cell)


def _combine(a: Cell, b: Cell) -> Cell:
    errors = dict(a.errors)
    for error, n in b.errors.items():
        errors[error] = errors.get(error, 0) + n
    return Cell(
        name=a.name,
        store=a.store,
        mode=a.mode,
        runs=a.runs + b.runs,
        failures=a.failures + b.failures,
        tokens=list(dict.fromkeys([*a.tokens, *b.tokens]))[:MAX_TOKENS],
        wall_time=a.wall_time + b.wall_time,
        errors=errors,
        crashed=a.crashed + b.crashed,
        timed_out=a.timed_out + b.timed_out,
        example=a.example if a.example is not None else b.example,
    )


def _sources(meta: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The original inputs behind ``meta``: itself, or what it was merged from."""
    merged = meta.get("merged_from")
    if isinstance(merged, list) and all(isinstance(m, dict) for m in merged):
        return list(merged)
    return [dict(meta)]


def _common(sources: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The meta entries every source has, with equal values (e.g. the harness version)."""
    sources = list(sources)
    if not sources:
        return {}
    first, rest = sources[0], sources[1:]
    return {
        key: value
        for key, value in first.items()
        if key != "merged_from" and all(key in m and m[key] == value for m in rest)
    }
