"""Small bodies shared by several tests (importable from a subprocess too)."""

from __future__ import annotations

import asyncio

import harness

SCHEMA = "CREATE TABLE IF NOT EXISTS kv(k TEXT PRIMARY KEY, v TEXT)"


async def lww_two_tasks(sim: harness.Sim) -> None:
    """Two tasks write the same key; the test expects the second submitted value to win.

    Correct in fifo mode (one connection, aiosqlite's FIFO worker); a real bug in
    parallel mode, where the two statements may execute in either order.
    """
    db = await sim.connect("app.db", isolation_level=None)
    await db.execute(SCHEMA)

    async def write(value: str) -> None:
        await db.execute("INSERT OR REPLACE INTO kv VALUES ('k', ?)", (value,))

    first = asyncio.create_task(write("v1"))
    second = asyncio.create_task(write("v2"))
    await asyncio.gather(first, second)
    async with db.execute("SELECT v FROM kv WHERE k = 'k'") as cursor:
        row = await cursor.fetchone()
    await db.close()
    assert row is not None and row[0] == "v2", f"last writer lost: stored {row}"


async def lock_counter(sim: harness.Sim) -> None:
    """Read-modify-write behind an asyncio.Lock on two connections: correct everywhere."""
    setup = await sim.connect("c.db", isolation_level=None)
    await setup.execute("CREATE TABLE IF NOT EXISTS c(n INTEGER)")
    await setup.execute("INSERT INTO c VALUES (0)")
    await setup.close()
    lock = asyncio.Lock()

    async def inc(name: str) -> None:
        async with sim.connect("c.db", isolation_level=None) as db, lock:
            async with db.execute("SELECT n FROM c") as cur:
                row = await cur.fetchone()
            await db.execute("UPDATE c SET n = ?", (row[0] + 1,))

    await asyncio.gather(inc("a"), inc("b"))
    async with sim.connect("c.db") as db, db.execute("SELECT n FROM c") as cur:
        row = await cur.fetchone()
    assert row[0] == 2, f"lost update: n = {row[0]}"
