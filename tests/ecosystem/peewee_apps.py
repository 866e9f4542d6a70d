"""peewee-async (2.x: its ``SqliteDatabase`` runs on aiosqlite): two tasks increment a counter.

SQLite support in peewee-async starts with 2.0 (``AioSqlitePool``: a new
aiosqlite connection per task, in autocommit mode; transactions begin with a
plain, deferred ``BEGIN``). Correct: the transaction writes first (an audit
row), taking the write lock before it reads. Racy: ``aio_get`` / ``aio_save``
without a transaction (a lost update), and in ``aio_transaction()`` (both
hold a read lock when they write: ``database is locked``).
"""

from __future__ import annotations

import asyncio

import peewee
import peewee_async

import harness
from tests.ecosystem._check import LOCKED, LOST_UPDATE, App, lost_update

DATABASE = peewee_async.SqliteDatabase("peewee.db")  # a pool: connections per task


class Counter(peewee_async.AioModel):
    n = peewee.IntegerField()

    class Meta:
        database = DATABASE


class Audit(peewee_async.AioModel):
    note = peewee.TextField()

    class Meta:
        database = DATABASE


async def start() -> None:
    await DATABASE.aio_connect()
    await DATABASE.aio_create_tables([Counter, Audit])
    await Counter.aio_create(id=1, n=0)


async def read_increment_write() -> None:
    counter = await Counter.aio_get(id=1)
    counter.n += 1
    await counter.aio_save()


async def race(increment: object) -> None:
    try:
        await asyncio.gather(increment(), increment())  # type: ignore[operator]
        lost_update((await Counter.aio_get(id=1)).n)
    finally:
        await DATABASE.aio_close()


async def write_first(sim: harness.Sim) -> None:
    await start()

    async def increment() -> None:
        async with DATABASE.aio_transaction():
            await Audit.aio_create(note="increment")
            await read_increment_write()

    await race(increment)


async def no_transaction(sim: harness.Sim) -> None:
    await start()
    await race(read_increment_write)


async def read_first(sim: harness.Sim) -> None:
    await start()

    async def increment() -> None:
        async with DATABASE.aio_transaction():
            await read_increment_write()

    await race(increment)


APPS = [
    App("peewee-async", "write_first", __name__, "write_first", exhaustive_cap=3600),
    App("peewee-async", "no_transaction", __name__, "no_transaction", bug=LOST_UPDATE),
    App("peewee-async", "read_first", __name__, "read_first", bug=LOCKED),
]
