"""Merging reports of shards and machines into one report that adds up.

Each stress report names its plan (``plan.id``, a digest of what decides the
results) and the shards it holds. :func:`merge` combines reports of *one*
plan whose shards are disjoint; it refuses, with one line, reports of
different plans, a shard present twice (the same report merged again,
``--shard 1/2`` run twice) and shards of different shardings (``1/2`` with
``1/3``: their chunks overlap), and reports without a plan (schema 1), whose
shards cannot be checked. ``force=True`` merges anyway and records why in
``meta["merge_forced"]``.

Invariants:

* counts (``planned``, ``runs``, ``failures``, ``crashed``, ``timed_out``),
  error counts and coverage are sums, so merging all shards of a plan gives
  the counts of the unsharded run exactly;
* examples are ordered by the run that produced them (then by input order)
  and cut to :data:`~.model.MAX_EXAMPLES`; tokens follow the examples — so
  the merged cell shows the same first failure as the unsharded run;
* cells follow the plan's order (else the order of first appearance);
* ``merge`` is associative; ``created`` is the latest input's, not the time
  of the merge (a pure function).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .model import MAX_EXAMPLES, MAX_TOKENS, Cell, Plan, Report, ReportError, shard_of


def merge(
    reports: Sequence[Report], *, force: bool = False, names: Sequence[str] | None = None
) -> Report:
    """One report from shards of one plan (see the module docstring).

    ``names`` label the inputs in error messages (file names); they default
    to ``#1``, ``#2``, ...
    """
    if not reports:
        raise ReportError("nothing to merge: no reports given")
    labels = list(names) if names is not None else [f"#{i + 1}" for i in range(len(reports))]
    problems = _problems(reports, labels)
    if problems and not force:
        raise ReportError(f"{problems[0]} (use --force to merge anyway)")
    plan = _merged_plan(reports, consistent=not problems)
    order = list(plan.cells) if plan is not None else []
    cells: dict[tuple[str, str, str], Cell] = {k: Cell(*k) for k in order}
    present: set[tuple[str, str, str]] = set()
    for report in reports:
        for cell in report.cells:
            seen = cells.get(cell.key)
            cells[cell.key] = cell_copy(cell) if seen is None else combine(seen, cell)
            present.add(cell.key)
    sources = [m for r in reports for m in _sources(r.meta)]
    meta = {**_common(sources), "merged_from": sources}
    if problems:
        meta["merge_forced"] = problems
    interrupted_by = next((r.interrupted_by for r in reports if r.interrupted_by), None)
    return Report(
        cells=[c for k, c in cells.items() if k in present],
        meta=meta,
        created=max(r.created for r in reports),
        harness_version=reports[0].harness_version,
        plan=plan,
        interrupted=any(r.interrupted for r in reports),
        interrupted_by=interrupted_by,
    )


def _coverage_of(report: Report) -> tuple[int | None, set[int]]:
    """The sharding a report holds: ``(N, indices)``; ``(None, set())`` for a whole plan."""
    assert report.plan is not None
    if report.plan.shard is None:
        return None, set()
    return int(report.plan.shard["count"]), set(report.plan.shard_indices)


def _problems(reports: Sequence[Report], labels: Sequence[str]) -> list[str]:
    """Why these reports must not be merged, first reason first (empty: they may)."""
    for report, label in zip(reports, labels, strict=True):
        if report.plan is None:
            return [
                f"{label} has no plan (schema 1 or a report without one): its shards "
                f"cannot be checked for duplicates"
            ]
    plans = [r.plan for r in reports]
    first = plans[0]
    assert first is not None
    for plan, label in zip(plans, labels, strict=True):
        assert plan is not None
        if plan.id != first.id:
            return [f"{labels[0]} and {label} measure different plans ({first.id}, {plan.id})"]
    owner: dict[int | None, str] = {}
    counts: dict[int | None, str] = {}
    for report, label in zip(reports, labels, strict=True):
        count, indices = _coverage_of(report)
        if counts and count not in counts:
            other = next(iter(counts.values()))
            return [f"{label} and {other} hold overlapping shards (different shardings)"]
        counts.setdefault(count, label)
        held: list[int | None] = list(indices) if indices else [None]
        for index in held:
            if index in owner:
                what = "the whole plan" if index is None else f"shard {index}/{count}"
                return [f"{what} appears twice ({owner[index]} and {label})"]
            owner[index] = label
    return []


def _merged_plan(reports: Sequence[Report], *, consistent: bool) -> Plan | None:
    plans = [r.plan for r in reports if r.plan is not None]
    if not plans:
        return None
    first = plans[0]
    cells = list(dict.fromkeys(k for p in plans for k in p.cells))
    shard: dict[str, Any] | None = None
    if consistent and first.shard is not None:
        indices = [i for p in plans for i in p.shard_indices]
        shard = shard_of(indices, int(first.shard["count"]))
    return Plan(id=first.id, runs_per_cell=first.runs_per_cell, cells=cells, shard=shard)


def cell_copy(cell: Cell) -> Cell:
    return combine(Cell(cell.name, cell.store, cell.mode, kind=cell.kind), cell)


def combine(a: Cell, b: Cell) -> Cell:
    """The cell that holds the runs of ``a`` and of ``b`` (same key)."""
    errors = dict(a.errors)
    for error, n in b.errors.items():
        errors[error] = errors.get(error, 0) + n
    examples = _examples([*a.examples, *b.examples], simulated=a.simulated or b.simulated)
    tokens = [e["token"] for e in examples if isinstance(e.get("token"), str)]
    if not tokens:  # reports without examples (schema 1): keep their tokens
        tokens = list(dict.fromkeys([*a.tokens, *b.tokens]))[:MAX_TOKENS]
    empty = a.runs == 0 and a.planned == 0 and not a.examples
    assert a.planned is not None and b.planned is not None
    return Cell(
        name=a.name,
        store=a.store,
        mode=a.mode,
        runs=a.runs + b.runs,
        failures=a.failures + b.failures,
        crashed=a.crashed + b.crashed,
        timed_out=a.timed_out + b.timed_out,
        planned=a.planned + b.planned,
        kind=b.kind if empty else a.kind,
        expected=a.expected if a.expected is not None else b.expected,
        errors=errors,
        tokens=tokens,
        coverage=b.coverage if empty else combine_coverage(a.coverage, b.coverage),
        examples=examples,
        wall_time_s=a.wall_time_s + b.wall_time_s,
        stopped=b.stopped if empty else (a.stopped if a.stopped == b.stopped else None),
    )


def combine_coverage(
    a: Mapping[str, Any] | None, b: Mapping[str, Any] | None
) -> dict[str, Any] | None:
    """Coverage of two explorations together: schedules and distinct ones add up."""
    if a is None or b is None:
        either = a if a is not None else b
        return dict(either) if either is not None else None
    bound = a.get("bound") if a.get("bound") == b.get("bound") else None
    exhausted = bool(a.get("exhausted")) and bool(b.get("exhausted"))
    return {
        "strategy": a.get("strategy") if a.get("strategy") == b.get("strategy") else "mixed",
        "schedules": int(a.get("schedules") or 0) + int(b.get("schedules") or 0),
        "distinct": int(a.get("distinct") or 0) + int(b.get("distinct") or 0),
        "exhausted": exhausted,
        "bound": bound if exhausted else None,
    }


def _examples(examples: list[dict[str, Any]], *, simulated: bool) -> list[dict[str, Any]]:
    """Examples by run; a simulated cell keeps one replayable example, its first failure's."""

    def order(pair: tuple[int, dict[str, Any]]) -> tuple[int, int]:
        position, example = pair
        run = example.get("run")
        index = run if isinstance(run, int) and not isinstance(run, bool) else 2**62
        return index, position

    kept: list[dict[str, Any]] = []
    seen: set[tuple[Any, ...]] = set()
    replayable = False
    for _, example in sorted(enumerate(examples), key=order):
        identity = (example.get("run"), example.get("token"), example.get("command"))
        if identity in seen:
            continue
        if simulated and example.get("token"):
            if replayable:
                continue  # each shard shrinks its own first failure: the earliest one wins
            replayable = True
        seen.add(identity)
        kept.append(example)
    return kept[:MAX_EXAMPLES]


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
        if key not in ("merged_from", "merge_forced")
        and all(key in m and m[key] == value for m in rest)
    }
