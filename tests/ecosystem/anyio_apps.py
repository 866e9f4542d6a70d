"""Plain aiosqlite under anyio task groups: two tasks increment a counter at once.

Each task opens its own connection (``isolation_level=None``: the app
issues its own ``BEGIN``). Correct: ``BEGIN IMMEDIATE`` before the read.
Racy: read then write in autocommit (a lost update), and after a deferred
``BEGIN`` (both hold a read lock when they write: ``database is locked``).
"""

from __future__ import annotations

import aiosqlite
import anyio

import harness
from tests.ecosystem._check import LOCKED, LOST_UPDATE, App, lost_update

FILE = "anyio.db"


async def race(begin: str | None) -> None:
    async with aiosqlite.connect(FILE, isolation_level=None) as db:
        await db.execute("CREATE TABLE counter(id INTEGER PRIMARY KEY, n INTEGER)")
        await db.execute("INSERT INTO counter VALUES (1, 0)")

    async def increment() -> None:
        async with aiosqlite.connect(FILE, isolation_level=None) as db:
            if begin:
                await db.execute(begin)
            async with db.execute("SELECT n FROM counter WHERE id = 1") as cursor:
                row = await cursor.fetchone()
            assert row is not None
            await db.execute("UPDATE counter SET n = ? WHERE id = 1", (row[0] + 1,))
            if begin:
                await db.execute("COMMIT")

    async with anyio.create_task_group() as tg:
        tg.start_soon(increment)
        tg.start_soon(increment)
    async with aiosqlite.connect(FILE) as db:
        rows = await db.execute_fetchall("SELECT n FROM counter")
    lost_update(next(iter(rows))[0])


async def begin_immediate(sim: harness.Sim) -> None:
    await race("BEGIN IMMEDIATE")


async def autocommit(sim: harness.Sim) -> None:
    await race(None)


async def deferred_begin(sim: harness.Sim) -> None:
    await race("BEGIN")


APPS = [
    App("anyio+aiosqlite", "begin_immediate", __name__, "begin_immediate", exhaustive_cap=800),
    App("anyio+aiosqlite", "autocommit", __name__, "autocommit", bug=LOST_UPDATE),
    App("anyio+aiosqlite", "deferred_begin", __name__, "deferred_begin", bug=LOCKED),
]
