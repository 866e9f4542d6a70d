"""Notifications: delivery order is a strategy choice; notify(conn=db) waits for the commit."""

from __future__ import annotations

import asyncio

import harness


def consumer(monotonic: bool):
    async def body(sim: harness.Sim) -> None:
        sub = sim.bus.listen("msgs")
        received: list[int] = []

        async def consume() -> None:
            last = 0
            for _ in range(3):
                item = await sub.get()
                if monotonic and item <= last:
                    continue  # a cursor that only moves forward drops late arrivals
                last = max(last, item)
                received.append(item)

        task = asyncio.create_task(consume())
        for i in (1, 2, 3):
            await sim.bus.notify("msgs", i)
        await task
        assert sorted(received) == [1, 2, 3], f"dropped: {sorted({1, 2, 3} - set(received))}"

    return body


def test_a_monotonic_cursor_consumer_drops_a_reordered_notification() -> None:
    result = harness.explore(consumer(monotonic=True), schedules=300, strategy="random")
    assert result.failed
    assert "recv" in result.failures[0].timeline and "deviation" in result.failures[0].timeline


def test_a_consumer_that_accepts_any_order_never_fails() -> None:
    result = harness.explore(
        consumer(monotonic=False), schedules=10_000, strategy=harness.Exhaustive(2)
    )
    assert not result.failed and result.exhausted


def producer(mode: str):
    async def body(sim: harness.Sim) -> None:
        async with sim.connect("bus.db", isolation_level=None) as setup:
            await setup.execute("CREATE TABLE items(id INTEGER PRIMARY KEY)")
        sub = sim.bus.listen("new")
        seen: list[int] = []

        async def consume() -> None:
            async with sim.connect("bus.db") as reader:
                item = await sub.get()
                rows = await reader.execute_fetchall("SELECT id FROM items WHERE id = ?", (item,))
                seen.extend(r[0] for r in rows)

        task = asyncio.create_task(consume())
        async with sim.connect("bus.db", isolation_level=None) as db:
            await db.execute("BEGIN")
            await db.execute("INSERT INTO items VALUES (1)")
            if mode == "before-commit":
                await sim.bus.notify("new", 1)
            elif mode == "with-conn":
                await sim.bus.notify("new", 1, conn=db)
            await db.execute("COMMIT")
            if mode == "after-commit":
                await sim.bus.notify("new", 1)
        await task
        assert seen == [1], "the notification overtook the row it announces"

    return body


def test_notify_before_commit_is_caught() -> None:
    result = harness.explore(producer("before-commit"), schedules=300, strategy="random")
    assert result.failed


def test_notify_after_commit_is_clean() -> None:
    for mode in ("after-commit", "with-conn"):
        result = harness.explore(producer(mode), schedules=20_000, strategy=harness.Exhaustive(2))
        assert not result.failed and result.exhausted, mode


def test_notify_with_conn_is_dropped_on_rollback() -> None:
    async def body(sim: harness.Sim) -> None:
        sub = sim.bus.listen("chan")
        async with sim.connect("r.db") as db:
            await db.execute("CREATE TABLE t(x)")
            await db.commit()
            await db.execute("INSERT INTO t VALUES (1)")
            await sim.bus.notify("chan", "rolled back", conn=db)
            await db.rollback()
            await sim.bus.notify("chan", "sent", conn=db)  # no transaction: sent at once
        assert await sub.get() == "sent"
        assert sub.pending() == 0

    result = harness.explore(body, schedules=50, strategy="random")
    assert not result.failed, result.failures and result.failures[0].timeline


def test_subscriptions_iterate_and_close() -> None:
    async def body(sim: harness.Sim) -> None:
        with sim.bus.listen("c") as sub:
            await sim.bus.notify("c", "a")
            got = []
            async for item in sub:
                got.append(item)
                if len(got) == 1:
                    sub.close()
            assert got == ["a"]
        late = sim.bus.listen("c")
        await sim.bus.notify("c", "b")
        assert await late.get() == "b"

    assert not harness.explore(body, schedules=20).failed


def test_a_commit_that_fails_busy_keeps_its_notifications_for_the_retry() -> None:
    async def body(sim: harness.Sim) -> None:
        import sqlite3

        sub = sim.bus.listen("chan")
        async with sim.connect("n.db") as setup:
            await setup.execute("CREATE TABLE t(x)")
            await setup.execute("INSERT INTO t VALUES (0)")
            await setup.commit()
        async with (
            sim.connect("n.db") as reader,
            sim.connect("n.db", timeout=1, isolation_level=None) as db,
        ):
            cursor = await reader.execute("SELECT x FROM t")  # holds SHARED
            await db.execute("BEGIN IMMEDIATE")
            await db.execute("INSERT INTO t VALUES (1)")
            await sim.bus.notify("chan", "row 1", conn=db)
            try:
                await db.execute("COMMIT")  # rollback journal: waits for the reader, times out
            except sqlite3.OperationalError:
                assert db.in_transaction  # the commit hook ran, but nothing was committed
            await cursor.close()
            await db.execute("COMMIT")  # the retry commits: now the notification goes
        assert await sub.get() == "row 1"

    result = harness.explore(body, schedules=100, strategy="random")
    assert not result.failed, result.failures and result.failures[0].timeline
