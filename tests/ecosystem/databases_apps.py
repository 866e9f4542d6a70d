"""``databases`` (``databases[aiosqlite]``): a counter two tasks increment at once.

``databases`` gives each task its own aiosqlite connection (autocommit) and
starts transactions with a plain, deferred ``BEGIN``. Correct: the
transaction writes first (an audit row), so it takes SQLite's write lock
before it reads and the other one waits for it (busy timeout). Racy: read
then write without a transaction (a lost update), and in a transaction
(both hold a read lock when they write: ``database is locked``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from databases import Database

import harness
from tests.ecosystem._check import LOCKED, LOST_UPDATE, App, lost_update

URL = "sqlite+aiosqlite:///databases.db"


async def started() -> Database:
    database = Database(URL)
    await database.connect()
    await database.execute("CREATE TABLE counter(id INTEGER PRIMARY KEY, n INTEGER)")
    await database.execute("CREATE TABLE audit(id INTEGER PRIMARY KEY, note TEXT)")
    await database.execute("INSERT INTO counter VALUES (1, 0)")
    return database


async def race(database: Database, increment: Any) -> None:
    try:
        await asyncio.gather(increment(), increment())
        lost_update(await database.fetch_val("SELECT n FROM counter WHERE id = 1"))
    finally:
        await database.disconnect()


async def read_increment_write(database: Database) -> None:
    n = await database.fetch_val("SELECT n FROM counter WHERE id = 1")
    await database.execute("UPDATE counter SET n = :n WHERE id = 1", {"n": n + 1})


async def write_first(sim: harness.Sim) -> None:
    database = await started()

    async def increment() -> None:
        async with database.transaction():
            await database.execute("INSERT INTO audit(note) VALUES ('increment')")
            await read_increment_write(database)

    await race(database, increment)


async def no_transaction(sim: harness.Sim) -> None:
    database = await started()
    await race(database, lambda: read_increment_write(database))


async def read_first(sim: harness.Sim) -> None:
    database = await started()

    async def increment() -> None:
        async with database.transaction():
            await read_increment_write(database)

    await race(database, increment)


APPS = [
    App("databases", "write_first", __name__, "write_first", exhaustive_cap=4500),
    App("databases", "no_transaction", __name__, "no_transaction", bug=LOST_UPDATE),
    App("databases", "read_first", __name__, "read_first", bug=LOCKED),
]
