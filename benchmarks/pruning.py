"""(j) ``pruning`` — schedules to exhaust a search, with and without its reduction.

Bounded search (``Exhaustive(2)``: diamonds) on the bundled reference
scenarios and on aiosqlite under anyio (writers in ``BEGIN IMMEDIATE``), and
complete search (``Exhaustive(None)``: sleep sets) on two connections reading
two files; each once with ``reduce=False``. Schedule counts are deterministic;
the CPU seconds beside them are this run's. What must hold: the reduced search
never runs more schedules, sees the same verdict, and runs fewer somewhere.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiosqlite
import anyio

import harness
from harness import scenarios

Body = Callable[[harness.Sim], Awaitable[None]]
Search = Callable[[harness.Exhaustive], harness.ExploreResult]
_BUDGET = 200_000


def anyio_writers(count: int) -> Body:
    """``count`` anyio tasks increment one counter, each in a ``BEGIN IMMEDIATE`` transaction."""

    async def body(sim: harness.Sim) -> None:
        async with aiosqlite.connect("w.db", isolation_level=None) as db:
            await db.execute("CREATE TABLE c(n INTEGER)")
            await db.execute("INSERT INTO c VALUES (0)")

        async def increment() -> None:
            async with aiosqlite.connect("w.db", isolation_level=None) as db:
                await db.execute("BEGIN IMMEDIATE")
                rows = await db.execute_fetchall("SELECT n FROM c")
                await db.execute("UPDATE c SET n = ?", (next(iter(rows))[0] + 1,))
                await db.execute("COMMIT")

        async with anyio.create_task_group() as tg:
            for _ in range(count):
                tg.start_soon(increment)
        async with aiosqlite.connect("w.db") as db:
            assert list(await db.execute_fetchall("SELECT n FROM c")) == [(count,)]

    return body


async def two_files(sim: harness.Sim) -> None:
    """Two connections read two files: every step across them commutes."""
    a = await sim.connect("a.db", isolation_level=None)
    b = await sim.connect("b.db", isolation_level=None)
    await asyncio.gather(a.execute("SELECT 1"), b.execute("SELECT 2"))
    await a.close()
    await b.close()


def _exhaust(run: Search, bound: int | None) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for label, reduce in (("full", False), ("reduced", True)):
        strategy = harness.Exhaustive(bound, reduce=reduce)
        started = time.process_time()
        result = run(strategy)
        row[label] = {
            "schedules": result.schedules_run,
            "exhausted": result.exhausted,
            "failed": result.failed,
            "cpu_s": round(time.process_time() - started, 2),
            "points_cut": strategy.pruned_points,
            "steps_pruned": strategy.pruned,
        }
    return row


def _scenario(name: str) -> Search:
    def run(strategy: harness.Exhaustive) -> harness.ExploreResult:
        return scenarios.get(name).explore(
            "reference", strategy=strategy, schedules=_BUDGET, workers=1, shrink=False
        )

    return run


def _body(body: Body) -> Search:
    def run(strategy: harness.Exhaustive) -> harness.ExploreResult:
        return harness.explore(body, strategy=strategy, schedules=_BUDGET, workers=1, shrink=False)

    return run


def bench_pruning(quick: bool) -> dict[str, Any]:
    names = ["subscribe-gap"] if quick else list(scenarios.REGISTRY)
    rows: dict[str, Any] = {}
    for name in names:
        rows[f"{name} reference, bound 2"] = _exhaust(_scenario(name), 2)
    for count in (2,) if quick else (2, 3):
        rows[f"anyio, {count} writers, bound 2"] = _exhaust(_body(anyio_writers(count)), 2)
    rows["two files, complete search"] = _exhaust(_body(two_files), None)
    return rows


def table_lines(results: dict[str, Any]) -> list[str]:
    lines = [
        "(j) schedules to exhaust, without → with reduction (CPU s)",
        f"    {'search':<36} {'full':>8} {'reduced':>8}   {'CPU s':>13}",
    ]
    for name, row in results.items():
        full, reduced = row["full"], row["reduced"]
        lines.append(
            f"    {name:<36} {full['schedules']:>8,} {reduced['schedules']:>8,}   "
            f"{full['cpu_s']:>6.1f} → {reduced['cpu_s']:<5.1f}"
        )
    return lines


def holds(results: dict[str, Any]) -> tuple[str, bool]:
    """Never more schedules, the same verdict, every search exhausted, fewer somewhere."""
    rows = list(results.values())
    fewer = sum(r["reduced"]["schedules"] < r["full"]["schedules"] for r in rows)
    ok = fewer > 0 and all(
        r["reduced"]["schedules"] <= r["full"]["schedules"]
        and r["reduced"]["failed"] == r["full"]["failed"]
        and r["reduced"]["exhausted"]
        and r["full"]["exhausted"]
        for r in rows
    )
    return f"fewer schedules in {fewer} of {len(rows)} searches, same verdicts", ok
