"""The timeline excerpt keeps what explains a failure (``harness._excerpt``)."""

from __future__ import annotations

import asyncio

import harness
from harness._excerpt import excerpt, kept_steps
from tests.test_shrink import noisy_lww


async def long_body_with_a_failing_statement(sim: harness.Sim) -> None:
    db = await sim.connect("long.db", isolation_level=None)
    await db.execute("CREATE TABLE kv(k TEXT PRIMARY KEY, v TEXT)")
    for i in range(25):
        await db.execute("INSERT INTO kv VALUES (?, 'x')", (f"k{i}",))
    try:
        await db.execute("INSERT INTO kv VALUES ('k3', 'again')")  # UNIQUE: IntegrityError
    except Exception:  # swallowed, as the buggy code under test does
        pass
    for i in range(25, 40):
        await db.execute("INSERT INTO kv VALUES (?, 'x')", (f"k{i}",))
    rows = await db.execute_fetchall("SELECT v FROM kv WHERE k = 'k3'")
    await db.close()
    assert rows == [("again",)], rows


def _failure(body, **options) -> harness.Failure:
    result = harness.explore(body, schedules=50, **options)
    assert result.failed
    return result.failures[0]


def test_the_failing_statement_and_the_read_the_assertion_used_are_kept() -> None:
    failure = _failure(long_body_with_a_failing_statement)
    assert len(failure.events) > 100
    text = excerpt(failure.events)
    assert "INSERT INTO kv VALUES ('k3', 'again') -> IntegrityError: UNIQUE constraint" in text
    assert "submit   long.db#1: INSERT INTO kv VALUES ('k3', 'again')" in text
    assert "SELECT v FROM kv WHERE k = 'k3' -> 1 row: ('x',)" in text  # the value read
    assert len(kept_steps(failure.events)) < len(failure.events) / 2


def test_the_overtaken_write_and_the_one_that_overtook_it_are_kept() -> None:
    failure = _failure(noisy_lww, mode="parallel", strategy="random")
    text = excerpt(failure.events)
    for value in ("v1", "v2"):
        assert f"submit   app.db#1: INSERT OR REPLACE INTO kv VALUES ('k', ?) ('{value}',)" in text
        assert f"INSERT OR REPLACE INTO kv VALUES ('k', ?) ('{value}',) -> ok" in text
    assert "<-- deviation" in text


async def random_delays(sim: harness.Sim) -> None:
    db = await sim.connect("d.db", isolation_level=None)
    await db.execute("CREATE TABLE t(n)")

    async def tool(n: int) -> None:
        await asyncio.sleep(sim.random.uniform(0.1, 2.0))
        await db.execute("INSERT INTO t VALUES (?)", (n,))

    await asyncio.gather(*(tool(n) for n in range(3)))
    for _ in range(20):
        await db.execute("SELECT 1")
    rows = await db.execute_fetchall("SELECT n FROM t ORDER BY rowid")
    await db.close()
    assert [r[0] for r in rows] == [0, 1, 2]


def test_the_random_draws_that_shaped_the_schedule_are_shown() -> None:
    failure = _failure(random_delays, seed=1)
    assert failure.deviations == 0  # the draws alone order the inserts
    text = excerpt(failure.events)
    assert text.count("sim.random.uniform(0.1, 2.0) -> ") == 3
