"""Reduced exhaustive search: fewer schedules, the same behaviours.

``Exhaustive(bound=None)`` prunes schedules that only reorder steps the engine
judges to commute (sleep sets); a bounded search prunes the second order of a
"diamond" of two adjacent commuting steps when the first order already covered
the state after it. The property that makes either safe: over the space it
searches, the reduced search observes exactly the outcomes the full search
observes — every read result, every final database state, every failure. Each
body here records what it saw in ``sim.notes``; the sets are compared against
the same search with pruning switched off (``reduce=False``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import aiosqlite
import anyio
import pytest

import harness
from harness.strategies import ChoicePoint, Kind

Body = Callable[[harness.Sim], Awaitable[None]]


class _Unreduced(harness.Exhaustive):
    """The same complete walk with every step awake: the reference."""

    def _choose_awake(self, point: ChoicePoint, forced: int) -> int:
        return max(forced, 0)


async def two_files(sim: harness.Sim) -> None:
    """Reads of two different files: every step across the files commutes."""
    a = await sim.connect("a.db", isolation_level=None)
    b = await sim.connect("b.db", isolation_level=None)

    async def read(db: Any, name: str) -> None:
        sim.notes[name] = await db.execute_fetchall("SELECT ?", (name,))

    await asyncio.gather(read(a, "a"), read(b, "b"))
    await a.close()
    await b.close()


async def two_readers(sim: harness.Sim) -> None:
    """Two reads of one file that nobody writes: they commute."""
    a = await sim.connect("r.db", isolation_level=None)
    b = await sim.connect("r.db", isolation_level=None)

    async def read(db: Any, name: str) -> None:
        sim.notes[name] = await db.execute_fetchall("SELECT count(*) FROM sqlite_master")

    await asyncio.gather(read(a, "a"), read(b, "b"))
    await a.close()
    await b.close()


async def reader_and_writer(sim: harness.Sim) -> None:
    """A read and a write of one file: they do not commute (the read sees 0 or 1 tables)."""
    a = await sim.connect("r.db", isolation_level=None)
    b = await sim.connect("r.db", isolation_level=None)

    async def read() -> None:
        sim.notes["tables"] = await a.execute_fetchall("SELECT count(*) FROM sqlite_master")

    async def write() -> None:
        await b.execute("CREATE TABLE t(v)")

    await asyncio.gather(read(), write())
    await a.close()
    await b.close()


async def two_files_two_rounds(sim: harness.Sim) -> None:
    """Reads and writes over two files, in two rounds: some steps commute, some do not."""
    a = await sim.connect("a.db", isolation_level=None)
    b = await sim.connect("b.db", isolation_level=None)
    c = await sim.connect("a.db", isolation_level=None)

    async def read(db: Any, name: str) -> None:
        sim.notes[name] = await db.execute_fetchall("SELECT count(*) FROM sqlite_master")

    async def write(db: Any, sql: str) -> None:
        await db.execute(sql)

    await asyncio.gather(
        read(a, "a1"), write(b, "CREATE TABLE t(v)"), write(c, "CREATE TABLE u(v)"), read(b, "b1")
    )
    await asyncio.gather(read(a, "a2"), write(c, "CREATE TABLE w(v)"))
    for db in (a, b, c):
        await db.close()


async def anyio_writers(sim: harness.Sim) -> None:
    """Two anyio tasks increment a counter, each in its own ``BEGIN IMMEDIATE`` transaction."""
    async with aiosqlite.connect("w.db", isolation_level=None) as db:
        await db.execute("CREATE TABLE c(n INTEGER)")
        await db.execute("INSERT INTO c VALUES (0)")

    async def increment(name: str) -> None:
        async with aiosqlite.connect("w.db", isolation_level=None) as db:
            await db.execute("BEGIN IMMEDIATE")
            rows = await db.execute_fetchall("SELECT n FROM c")
            sim.notes[name] = rows  # what this writer saw: 0 or 1
            await db.execute("UPDATE c SET n = ?", (next(iter(rows))[0] + 1,))
            await db.execute("COMMIT")

    async with anyio.create_task_group() as tg:
        tg.start_soon(increment, "a")
        tg.start_soon(increment, "b")
    async with aiosqlite.connect("w.db") as db:
        sim.notes["n"] = await db.execute_fetchall("SELECT n FROM c")


def _outcomes(body: Body, strategy: harness.Exhaustive) -> tuple[set[Any], int]:
    seen: set[Any] = set()

    async def observed(sim: harness.Sim) -> None:
        try:
            await body(sim)
        finally:
            seen.add(repr(sorted(sim.notes.items())))

    result = harness.explore(
        observed, strategy=strategy, schedules=50_000, workers=1, stop_on_first=False, shrink=False
    )
    assert result.exhausted
    seen.update(f"failure: {type(f.error).__name__}: {f.error}" for f in result.failures)
    return seen, result.schedules_run


@pytest.mark.parametrize(
    "body", [two_files, two_readers, reader_and_writer], ids=lambda b: b.__name__
)
def test_reduced_search_sees_every_outcome_of_the_full_search(body: Body) -> None:
    full, full_runs = _outcomes(body, _Unreduced(None))
    reduced_strategy = harness.Exhaustive(None)
    reduced, reduced_runs = _outcomes(body, reduced_strategy)
    assert reduced == full
    assert reduced_runs <= full_runs
    assert (reduced_strategy.pruned > 0) == (reduced_runs < full_runs)


def test_steps_on_different_files_are_pruned() -> None:
    _, full_runs = _outcomes(two_files, _Unreduced(None))
    _, reduced_runs = _outcomes(two_files, harness.Exhaustive(None))
    assert reduced_runs < full_runs * 0.8


def test_a_read_and_a_write_of_one_file_keep_both_orders() -> None:
    seen, _ = _outcomes(reader_and_writer, harness.Exhaustive(None))
    assert seen == {"[('tables', [(0,)])]", "[('tables', [(1,)])]"}


async def _read_before_write(sim: harness.Sim) -> None:
    await reader_and_writer(sim)
    assert sim.notes["tables"] == [(1,)], "the read ran first"


def test_complete_search_finds_an_order_dependent_failure_and_proves_nothing_then() -> None:
    result = harness.explore(
        _read_before_write, strategy=harness.Exhaustive(None), schedules=50_000, workers=1
    )
    assert result.failed and result.proof is None


def test_a_passing_complete_search_says_what_it_proved() -> None:
    result = harness.explore(two_files, strategy=harness.Exhaustive(None), schedules=50_000)
    assert result.exhausted and not result.failed
    assert result.proof is not None and result.proof.startswith("every schedule passes")
    assert "in one order" in result.proof


@pytest.mark.parametrize(
    ("body", "bound"),
    [
        (two_files, 3),
        (two_readers, 3),
        (reader_and_writer, 3),
        (two_files_two_rounds, 2),
        (anyio_writers, 2),
    ],
    ids=lambda v: getattr(v, "__name__", str(v)),
)
def test_a_bounded_reduced_search_sees_every_outcome_of_the_bounded_full_search(
    body: Body, bound: int
) -> None:
    full, full_runs = _outcomes(body, harness.Exhaustive(bound, reduce=False))
    strategy = harness.Exhaustive(bound)
    reduced, reduced_runs = _outcomes(body, strategy)
    assert reduced == full
    assert strategy.pruned == 0  # sleep sets are for the complete search only
    assert strategy.pruned_points > 0 and reduced_runs < full_runs


def test_a_bounded_proof_says_when_orders_were_merged() -> None:
    result = harness.explore(anyio_writers, strategy=harness.Exhaustive(2), schedules=50_000)
    assert result.exhausted and not result.failed and result.merged_orders > 0
    assert result.proof is not None
    assert result.proof.startswith("every schedule with at most 2 deviations")
    assert "provably commute" in result.proof
    plain = harness.explore(
        anyio_writers, strategy=harness.Exhaustive(2, reduce=False), schedules=50_000
    )
    assert plain.proof == "every schedule with at most 2 deviations from the default order passes"


def test_anyio_writers_see_both_orders_in_the_bounded_search() -> None:
    seen, _ = _outcomes(anyio_writers, harness.Exhaustive(2))
    assert {o.count("[(0,)]") for o in seen} == {1}  # one writer saw 0, the other 1
    assert len(seen) == 2  # a first or b first


def test_reduce_false_prunes_nothing() -> None:
    complete = harness.Exhaustive(None, reduce=False)
    _, runs = _outcomes(two_files, complete)
    _, reference_runs = _outcomes(two_files, _Unreduced(None))
    assert runs == reference_runs and complete.pruned == 0
    bounded = harness.Exhaustive(3, reduce=False)
    _outcomes(two_files, bounded)
    assert bounded.pruned == bounded.pruned_points == 0


class _Judge(harness.Exhaustive):
    """Records the engine's commutation judgement for every pair of statements it offers."""

    def __init__(self) -> None:
        super().__init__(None)
        self.judged: dict[tuple[str, str], bool] = {}

    def _choose_awake(self, point: ChoicePoint, forced: int) -> int:
        assert point.commute is not None
        execs = [a for a in point.alternatives if a.kind is Kind.EXEC]
        for a in execs:
            for b in execs:
                if a is not b:
                    pair = (str(a.target.label), str(b.target.label))  # type: ignore[attr-defined]
                    self.judged[pair] = point.commute(a, b)
        return super()._choose_awake(point, forced)


def _judged(first: tuple[str, str], second: tuple[str, str], setup: str = "") -> bool:
    """Whether statement ``first[1]`` on file ``first[0]`` and ``second`` were judged to commute."""

    async def body(sim: harness.Sim) -> None:
        for name in {first[0], second[0]}:
            db = await sim.connect(name, isolation_level=None)
            await db.execute("CREATE TABLE IF NOT EXISTS t(v)")
            await db.close()
        a = await sim.connect(first[0], isolation_level=None)
        b = await sim.connect(second[0], isolation_level=None)
        if setup:
            await b.create_function(setup, 0, lambda: 1)
        await asyncio.gather(a.execute(first[1]), b.execute(second[1]))
        await a.close()
        await b.close()

    judge = _Judge()
    harness.explore(body, strategy=judge, schedules=20_000, workers=1)
    verdicts = {v for (x, y), v in judge.judged.items() if {x, y} == {first[1], second[1]}}
    assert len(verdicts) == 1, judge.judged  # offered together, and judged the same each time
    return verdicts.pop()


READ = "SELECT count(*) FROM t"
WRITE = "INSERT INTO t VALUES (1)"


def test_statements_on_different_files_commute() -> None:
    assert _judged(("a.db", WRITE), ("b.db", WRITE + " -- b"))


def test_two_reads_of_one_file_commute() -> None:
    assert _judged(("r.db", READ), ("r.db", READ + " -- b"))


def test_a_read_and_a_write_of_one_file_do_not() -> None:
    assert not _judged(("r.db", READ), ("r.db", WRITE))


def test_two_writes_of_one_file_do_not() -> None:
    assert not _judged(("w.db", WRITE), ("w.db", WRITE + " -- b"))


def test_a_connection_running_user_functions_commutes_with_nothing() -> None:
    assert not _judged(("a.db", READ), ("b.db", READ + " -- b"), setup="one")


def test_random_in_sql_commutes_with_nothing() -> None:
    assert not _judged(("a.db", "SELECT random()"), ("b.db", READ))
