"""harness benchmarks: speed as ratios measured side by side in one run.

    python -m benchmarks.run            # everything (a few minutes on 2 cores)
    python -m benchmarks.run --quick    # smaller sizes, same measurements
    python -m benchmarks.run --only statements detection

Writes ``benchmarks/results.json`` and prints a table. Not part of the test
suite: numbers depend on the machine; what is comparable is each ratio, taken
in the same process minutes apart.

(a) ``schedules`` — schedules/s per scenario: reference store, random strategy,
    no shrinking; plus the smallest body (two tasks, one key, four statements), the
    same body's SQLite work alone, and its aiosqlite code run inline on a stock loop
    (no harness; ``benchmarks/floors.py``): the ceilings of any schedule rate.
(b) ``statements`` — µs per statement: the same statements inside a simulation
    and on real aiosqlite on the stock loop (tmpfs; default journal, and with the
    in-memory journal the simulation uses, to separate the thread hop from I/O).
(c) ``detection`` — time to first detection of each seed bug (original and
    naive-fix): harness (schedules and wall time, median over seeds) vs real-mode
    stress on real aiosqlite (runs until the first failure, capped).
(d) ``scaling`` — a fixed sim stress run with 1 and with 2 xdist workers.
(e) ``loop`` — the controlled loop vs the stock loop on a pure-asyncio body.
(f) ``linearizability`` — the operation-testing checker (``benchmarks/linearizability.py``).
(g) ``parallel`` — the smallest body explored on 1 and on 2 processes (``workers=``), same
    budget and seed: the ratio, and whether the results are identical.
(h) ``startup`` — ``python -X importtime`` of the CLI, and a fresh ``harness explore``
    process per bug (confirmation and shrinking included; shrinking time apart).
(i) ``fresh`` — per bug: harness end to end in a fresh process (median of several) against
    real repetition on real aiosqlite, on a quiet machine and under a CPU load this
    benchmark generates itself (one busy process per CPU, each stopping by itself);
    medians and spread over repetitions.
(j) ``pruning`` — schedules to exhaust bounded and complete search, with and without their
    reduction (``benchmarks/pruning.py``).

(h) and (i) start processes; they live in ``benchmarks/processes.py``.
Every exploration here runs on one process (``workers=1``) unless it says otherwise.
The last table lists each target, its measurement and whether it holds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiosqlite

import harness
from benchmarks import floors, pruning
from benchmarks.floors import smallest_body
from benchmarks.linearizability import bench_linearizability, table_lines
from benchmarks.processes import bench_fresh, bench_startup, cell
from harness import scenarios
from harness.sqlite._database import default_workroot

HERE = Path(__file__).resolve().parent
wall = time.perf_counter


def _best(samples: list[float]) -> float:
    return min(samples)


# --------------------------------------------------------------------- (a)
def bench_schedules(quick: bool) -> dict[str, Any]:
    n = 300 if quick else 1500
    out: dict[str, Any] = {}
    for _ in range(2):  # warm up caches and imports
        harness.explore(smallest_body, schedules=50, strategy="random", workers=1)
    samples = [
        harness.explore(
            smallest_body, schedules=n, strategy="random", shrink=False, workers=1
        ).schedules_per_second
        for _ in range(3)
    ]
    floor = min(floors.sqlite_floor_us(200 if quick else 1000) for _ in range(3))
    inline = min(floors.inline_floor_us(200 if quick else 1000) for _ in range(3))
    out["smallest body"] = {
        "schedules": n,
        "schedules_per_s": max(samples),
        "sqlite_only_us_per_schedule": floor,
        "sqlite_only_per_s": 1e6 / floor,
        "aiosqlite_inline_us_per_schedule": inline,
        "aiosqlite_inline_per_s": 1e6 / inline,
    }

    async def in_memory(sim: harness.Sim) -> None:
        await smallest_body(sim, ":memory:")

    samples = [
        harness.explore(
            in_memory, schedules=n, strategy="random", shrink=False, workers=1
        ).schedules_per_second
        for _ in range(3)
    ]
    out["smallest body, :memory:"] = {"schedules": n, "schedules_per_s": max(samples)}
    for name, scenario in scenarios.REGISTRY.items():
        runs = n // 5
        rates = [
            scenario.explore(
                "reference", strategy="random", schedules=runs, seed=s, shrink=False, workers=1
            ).schedules_per_second
            for s in range(2)
        ]
        out[name] = {"schedules": runs, "schedules_per_s": max(rates)}
    return out


# --------------------------------------------------------------------- (b)
STATEMENTS = 400


async def statement_workload(
    connect: Callable[..., Any], path: str, journal: str | None
) -> tuple[float, int]:
    """Open, then STATEMENTS statements (autocommit writes and reads); time only those."""
    db = await connect(path, isolation_level=None)
    if journal:
        await db.execute(f"PRAGMA journal_mode = {journal}")
    await db.execute("CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, v TEXT)")
    started = wall()
    for i in range(STATEMENTS // 2):
        await db.execute("INSERT INTO t(v) VALUES (?)", (f"value {i}",))
        await db.execute_fetchall("SELECT v FROM t WHERE id = ?", (i + 1,))
    elapsed = wall() - started
    await db.close()
    return elapsed, STATEMENTS


def bench_statements(quick: bool) -> dict[str, Any]:
    rounds = 3 if quick else 7
    root = default_workroot()

    def real(journal: str | None) -> float:
        samples = []
        for _ in range(rounds):
            with tempfile.TemporaryDirectory(dir=root) as d:
                elapsed, count = asyncio.run(
                    statement_workload(aiosqlite.connect, os.path.join(d, "b.db"), journal)
                )
            samples.append(elapsed / count * 1e6)
        return _best(samples)

    def simulated() -> float:
        samples: list[float] = []

        async def body(sim: harness.Sim) -> None:
            elapsed, count = await statement_workload(sim.connect, "b.db", None)
            samples.append(elapsed / count * 1e6)

        for _ in range(rounds):
            harness.explore(body, schedules=1, shrink=False, workers=1)
        return _best(samples)

    sim_us = simulated()
    real_default = real(None)
    real_memory = real("MEMORY")
    return {
        "statements": STATEMENTS,
        "sim_us_per_statement": sim_us,
        "real_aiosqlite_us_per_statement": real_default,
        "real_aiosqlite_memory_journal_us_per_statement": real_memory,
        "speedup_vs_real": real_default / sim_us,
        "speedup_vs_real_same_journal": real_memory / sim_us,
    }


# --------------------------------------------------------------------- (c)
def bench_detection(quick: bool) -> dict[str, Any]:
    seeds = range(3 if quick else 7)
    cap_seconds = 10.0 if quick else 30.0
    out: dict[str, Any] = {}
    for name, scenario in scenarios.REGISTRY.items():
        for variant in ("original", "naive-fix"):
            times, counts = [], []
            for seed in seeds:
                started = wall()
                result = scenario.explore(variant, seed=seed, shrink=False, workers=1)
                times.append(wall() - started)
                counts.append(result.failures[0].schedule + 1 if result.failed else None)
            real_runs, real_seconds, found = 0, 0.0, False
            started = wall()
            while wall() - started < cap_seconds:
                real_runs += 1
                try:
                    scenario.run_real(variant, seed=real_runs)
                except AssertionError:
                    found = True
                    break
            real_seconds = wall() - started
            harness_seconds = statistics.median(times)
            out[f"{name}/{variant}"] = {
                "harness_schedules_median": statistics.median(c or 10**9 for c in counts),
                "harness_seconds_median": harness_seconds,
                "harness_found_every_seed": all(counts),
                "real_runs": real_runs,
                "real_seconds": real_seconds,
                "real_found": found,
                "speedup": real_seconds / harness_seconds,
                "speedup_is_lower_bound": not found,
            }
    return out


# --------------------------------------------------------------------- (d)
def bench_scaling(quick: bool) -> dict[str, Any]:
    import io

    from harness.stress import StressOptions, run_stress

    runs = 100 if quick else 300
    out: dict[str, Any] = {}
    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as d:
            options = StressOptions(
                scenarios=list(scenarios.REGISTRY),
                stores=list(scenarios.VARIANTS),
                modes=["sim"],
                runs=runs,
                workers=workers,
                out=Path(d),
                seed=1,
                examples=False,
            )
            started = wall()
            run_stress(options, stderr=io.StringIO())
            out[f"{workers} worker(s)"] = wall() - started
    out["speedup"] = out["1 worker(s)"] / out["2 worker(s)"]
    out["runs_per_cell"] = runs
    return out


# --------------------------------------------------------------------- (e)
async def pure_asyncio() -> None:
    queue: asyncio.Queue[int] = asyncio.Queue(maxsize=1)
    lock = asyncio.Lock()
    total = 0

    async def producer() -> None:
        for i in range(4000):
            await queue.put(i)

    async def consumer() -> None:
        nonlocal total
        for _ in range(4000):
            item = await queue.get()
            async with lock:
                total += item
            await asyncio.sleep(0)

    await asyncio.gather(producer(), consumer())


def bench_loop(quick: bool) -> dict[str, Any]:
    rounds = 3 if quick else 7
    stock = []
    for _ in range(rounds):
        started = wall()
        asyncio.run(pure_asyncio())
        stock.append(wall() - started)
    controlled = []

    async def body(sim: harness.Sim) -> None:
        await pure_asyncio()

    for _ in range(rounds):
        started = wall()
        harness.explore(body, schedules=1, shrink=False, workers=1)
        controlled.append(wall() - started)
    return {
        "stock_seconds": _best(stock),
        "controlled_seconds": _best(controlled),
        "overhead": _best(controlled) / _best(stock),
    }


# --------------------------------------------------------------------- (g)
def bench_parallel(quick: bool) -> dict[str, Any]:
    n = 600 if quick else 2400
    harness.explore(smallest_body, schedules=64, workers=2)  # warm up
    results: dict[int, harness.ExploreResult] = {}
    seconds: dict[int, float] = {}
    for workers in (1, 2):
        samples = []
        for _ in range(3):
            started = wall()
            results[workers] = harness.explore(
                smallest_body, schedules=n, seed=3, shrink=False, workers=workers
            )
            samples.append(wall() - started)
        seconds[workers] = _best(samples)

    def same(a: harness.ExploreResult, b: harness.ExploreResult) -> bool:
        return (a.schedules_run, a.distinct_schedules, [f.token for f in a.failures]) == (
            b.schedules_run,
            b.distinct_schedules,
            [f.token for f in b.failures],
        )

    return {
        "schedules": n,
        "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1,
        "one_process_s": seconds[1],
        "two_processes_s": seconds[2],
        "one_process_per_s": n / seconds[1],
        "two_processes_per_s": n / seconds[2],
        "speedup": seconds[1] / seconds[2],
        "identical_results": same(results[1], results[2]),
    }


BENCHES: dict[str, Callable[[bool], dict[str, Any]]] = {
    "schedules": bench_schedules,
    "statements": bench_statements,
    "detection": bench_detection,
    "scaling": bench_scaling,
    "loop": bench_loop,
    "linearizability": bench_linearizability,
    "parallel": bench_parallel,
    "startup": bench_startup,
    "fresh": bench_fresh,
    "pruning": pruning.bench_pruning,
}


def table(results: dict[str, Any]) -> str:
    lines = []
    if "schedules" in results:
        lines += [
            "(a) schedules per second (reference store, random, no shrinking)",
            f"    {'workload':<26} {'schedules/s':>12}",
        ]
        for name, row in results["schedules"].items():
            lines.append(f"    {name:<26} {row['schedules_per_s']:>12,.0f}")
            if "sqlite_only_per_s" in row:
                lines.append(
                    f"    {'  SQLite alone, no harness':<26} {row['sqlite_only_per_s']:>12,.0f}"
                    f"   ({row['sqlite_only_us_per_schedule']:.0f} µs per schedule)"
                )
            if "aiosqlite_inline_per_s" in row:
                lines.append(
                    f"    {'  its aiosqlite code inline':<26} "
                    f"{row['aiosqlite_inline_per_s']:>12,.0f}"
                    f"   ({row['aiosqlite_inline_us_per_schedule']:.0f} µs per schedule: stock"
                    " loop, jobs run at once, no harness)"
                )
    if "statements" in results:
        s = results["statements"]
        memory = s["real_aiosqlite_memory_journal_us_per_statement"]
        lines += [
            "(b) µs per statement, same run",
            f"    simulated                      {s['sim_us_per_statement']:8.1f}",
            f"    real aiosqlite (default)       {s['real_aiosqlite_us_per_statement']:8.1f}"
            f"   ratio {s['speedup_vs_real']:.2f}x",
            f"    real aiosqlite (memory journal){memory:8.1f}"
            f"   ratio {s['speedup_vs_real_same_journal']:.2f}x",
        ]
    if "detection" in results:
        lines += [
            "(c) time to first detection: harness (median over seeds) vs real stress",
            f"    {'bug':<30} {'sched':>6} {'harness s':>10} {'real runs':>9} "
            f"{'real s':>8} {'speedup':>9}",
        ]
        for bug, row in results["detection"].items():
            bound = ">=" if row["speedup_is_lower_bound"] else "  "
            lines.append(
                f"    {bug:<30} {row['harness_schedules_median']:>6} "
                f"{row['harness_seconds_median']:>10.3f} {row['real_runs']:>9} "
                f"{row['real_seconds']:>8.2f} {bound}{row['speedup']:>7.0f}x"
            )
    if "scaling" in results:
        s = results["scaling"]
        if "skipped" in s:
            lines.append(f"(d) stress scaling: {s['skipped']}")
        else:
            lines.append(
                f"(d) stress scaling ({s['runs_per_cell']} sim runs/cell): 1 worker "
                f"{s['1 worker(s)']:.1f}s, 2 workers {s['2 worker(s)']:.1f}s, "
                f"speedup {s['speedup']:.2f}x"
            )
    if "loop" in results:
        s = results["loop"]
        lines.append(
            f"(e) pure asyncio body: stock {s['stock_seconds'] * 1e3:.1f} ms, "
            f"controlled {s['controlled_seconds'] * 1e3:.1f} ms, "
            f"overhead {s['overhead']:.2f}x"
        )
    if "linearizability" in results:
        lines += table_lines(results["linearizability"])
    if "parallel" in results:
        p = results["parallel"]
        lines.append(
            f"(g) parallel exploration, smallest body, {p['schedules']} schedules: 1 process "
            f"{p['one_process_per_s']:,.0f}/s, 2 processes {p['two_processes_per_s']:,.0f}/s, "
            f"speedup {p['speedup']:.2f}x, identical results: {p['identical_results']}"
        )
    if "startup" in results:
        t = results["startup"]
        shrink = t["explore_shrink_s_median"]
        lines.append(
            f"(h) start-up: import harness.cli {t['import_harness_cli_ms']:.0f} ms, "
            f"`harness --version` {t['harness_version_s_median']:.2f} s, fresh `harness "
            f"explore metadata-lww` {t['explore_metadata_lww_s_median']:.2f} s "
            f"(confirming and shrinking {shrink if shrink is not None else '?'} s)"
        )
    if "fresh" in results:
        lines += [
            "(i) to first detection, median [min-max] of repetitions: a fresh `harness explore`"
            " process vs real runs on a quiet machine and under CPU load",
            f"    {'bug':<30} {'harness s':>18} {'real quiet s':>22} {'real loaded s':>22}",
        ]
        for bug, row in results["fresh"].items():
            reps = row["repetitions"]
            lines.append(
                f"    {bug:<30} {cell(row['harness_fresh_s']):>18} "
                f"{cell(row['real_quiet_s'], row['real_quiet_found'], reps):>22} "
                f"{cell(row['real_loaded_s'], row['real_loaded_found'], reps):>22}"
            )
    if "pruning" in results:
        lines += pruning.table_lines(results["pruning"])
    lines += ["", "targets", *targets(results)]
    return "\n".join(lines)


def targets(results: dict[str, Any]) -> list[str]:
    """Each target of the benchmarks with what was measured and whether it holds."""
    rows: list[tuple[str, str, bool]] = []
    if "schedules" in results:
        smallest = results["schedules"]["smallest body"]
        rate = smallest["schedules_per_s"]
        ceiling = smallest.get("sqlite_only_per_s")
        inline = smallest.get("aiosqlite_inline_per_s")
        bound = f" (SQLite's own work alone allows {ceiling:,.0f}/s" if ceiling else ""
        if ceiling and inline:
            bound += f"; the body's aiosqlite code inline, no harness: {inline:,.0f}/s"
        bound += ")" if ceiling else ""
        rows.append(
            (
                "≥ 3,000 schedules/s, smallest body, one process",
                f"{rate:,.0f}/s{bound}",
                rate >= 3000,
            )
        )
    if "statements" in results:
        ratio = results["statements"]["speedup_vs_real"]
        rows.append(
            ("simulated statement ≥ 2x faster than real aiosqlite", f"{ratio:.2f}x", ratio >= 2)
        )
    if "parallel" in results:
        p = results["parallel"]
        rows.append(
            (
                "2 processes ≥ 1.8x one, identical results",
                f"{p['speedup']:.2f}x on {p['cpus']} CPUs, identical {p['identical_results']}",
                p["speedup"] >= 1.8 and p["identical_results"],
            )
        )
    if "scaling" in results and "speedup" in results["scaling"]:
        speed = results["scaling"]["speedup"]
        rows.append(("2 stress workers ≥ 1.7x one", f"{speed:.2f}x", speed >= 1.7))
    if "startup" in results:
        t = results["startup"]
        share = t["harness_version_s_median"] / t["explore_metadata_lww_s_median"]
        rows.append(
            (
                "`harness explore` dominated by the work, not start-up",
                f"start-up {share:.0%} of a fresh explore",
                share < 0.5,
            )
        )
    if "fresh" in results:
        fresh = results["fresh"]
        total = len(fresh)
        found = sum(
            row.get("harness_found", row["repetitions"]) == row["repetitions"]
            for row in fresh.values()
        )
        rows.append(
            (
                "every bundled bug found by a fresh `harness explore`, every repetition",
                f"{found} of {total} bugs",
                found == total,
            )
        )
        # faster: harness's median below real repetition's (a capped real search that
        # found nothing counts as its cap, a lower bound of its time)
        faster = [
            bug
            for bug, row in fresh.items()
            if row["harness_fresh_s"]["median"] < row["real_quiet_s"]["median"]
        ]
        rows.append(
            (
                "a fresh `harness explore` finds the bug sooner than real repetition (quiet)",
                f"{len(faster)} of {total} bugs" + (f" ({', '.join(faster)})" if faster else ""),
                len(faster) == total,
            )
        )
    if "pruning" in results:
        measured, ok = pruning.holds(results["pruning"])
        rows.append(
            ("reduced exhaustive search: never more schedules, same verdicts", measured, ok)
        )
    return [f"    {'yes' if ok else 'NO '}  {name}: {measured}" for name, measured, ok in rows]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument("--only", nargs="+", choices=list(BENCHES), help="run only these")
    parser.add_argument("--out", default=str(HERE / "results.json"), help="JSON output path")
    args = parser.parse_args(argv)
    results: dict[str, Any] = {
        "machine": {
            "python": sys.version.split()[0],
            "sqlite": sqlite3.sqlite_version,
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "workroot": default_workroot(),
            "quick": args.quick,
        }
    }
    for name in args.only or list(BENCHES):
        started = wall()
        results[name] = BENCHES[name](args.quick)
        print(f"[{name}: {wall() - started:.1f}s]", file=sys.stderr, flush=True)
    Path(args.out).write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(table(results))
    print(f"\nresults: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
