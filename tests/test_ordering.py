"""fifo mode is aiosqlite (per connection in order); parallel mode is a pool."""

from __future__ import annotations

import asyncio

import harness
from tests.bodies import SCHEMA, lww_two_tasks


def test_one_connection_never_reorders_in_fifo_mode() -> None:
    result = harness.explore(
        lww_two_tasks, schedules=50_000, strategy=harness.Exhaustive(2), mode="fifo"
    )
    assert not result.failed and result.exhausted


def test_one_connection_reorders_in_parallel_mode() -> None:
    result = harness.explore(lww_two_tasks, schedules=200, mode="parallel", strategy="random")
    assert result.failed
    failure = result.failures[0]
    assert failure.deviations == 1  # shrunk to the single reorder
    assert "INSERT OR REPLACE INTO kv VALUES ('k', ?) ('v2',) -> ok" in failure.timeline


async def two_connections(sim: harness.Sim) -> None:
    async with sim.connect("two.db", isolation_level=None) as setup:
        await setup.execute(SCHEMA)
    a = await sim.connect("two.db", isolation_level=None)
    b = await sim.connect("two.db", isolation_level=None)
    first = asyncio.create_task(a.execute("INSERT OR REPLACE INTO kv VALUES ('k', 'a')"))
    second = asyncio.create_task(b.execute("INSERT OR REPLACE INTO kv VALUES ('k', 'b')"))
    await asyncio.gather(first, second)
    rows = await a.execute_fetchall("SELECT v FROM kv")
    await a.close()
    await b.close()
    assert rows == [("b",)], rows


def test_two_connections_reorder_even_in_fifo_mode() -> None:
    result = harness.explore(two_connections, schedules=200, mode="fifo", strategy="random")
    assert result.failed and result.failures[0].deviations == 1


def test_results_of_one_connection_arrive_in_order_in_fifo_mode() -> None:
    async def body(sim: harness.Sim) -> None:
        db = await sim.connect("r.db")
        arrived: list[int] = []

        async def query(i: int) -> None:
            await db.execute("SELECT ?", (i,))
            arrived.append(i)

        await asyncio.gather(*(query(i) for i in range(3)))
        await db.close()
        assert arrived == [0, 1, 2]

    assert not harness.explore(body, schedules=5_000, strategy=harness.Exhaustive(2)).failed
    assert harness.explore(body, schedules=300, strategy="random", mode="parallel").failed
