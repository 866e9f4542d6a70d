"""Tortoise ORM (its SQLite backend is aiosqlite): a counter two tasks increment at once.

Tortoise gives each configured connection one aiosqlite connection and
serialises its transactions with a lock. Correct: the increments run in
``in_transaction()`` on one connection. Racy: the same read-modify-write
without a transaction (a lost update), and in transactions on two
connections to one file (Tortoise's plain ``BEGIN`` is deferred: both hold a
read snapshot when they write, and SQLite fails one with ``database is
locked``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from tortoise import Tortoise, fields
from tortoise import connections as connections_
from tortoise.models import Model
from tortoise.transactions import in_transaction

import harness
from tests.ecosystem._check import LOCKED, LOST_UPDATE, App, lost_update

FILE = "tortoise.db"


class Counter(Model):
    id = fields.IntField(primary_key=True)
    n = fields.IntField(default=0)


async def start(connections: tuple[str, ...] = ("default",)) -> None:
    await Tortoise.init(
        config={
            "connections": {name: f"sqlite://{FILE}" for name in connections},
            "apps": {"models": {"models": [__name__], "default_connection": connections[0]}},
        }
    )
    await Tortoise.generate_schemas()
    await Counter.create(id=1, n=0)
    for name in connections[1:]:  # warm: every connection is open before the race
        await connections_.get(name).execute_query("SELECT 1")


async def check_and_close() -> None:
    try:
        counter = await Counter.get(id=1)
        lost_update(counter.n)
    finally:
        await Tortoise.close_connections()


async def in_transactions(sim: harness.Sim) -> None:
    await start()

    async def increment() -> None:
        async with in_transaction() as conn:
            counter = await Counter.get(id=1).using_db(conn)
            counter.n += 1
            await counter.save(using_db=conn)

    try:
        await asyncio.gather(increment(), increment())
    except BaseException:
        await Tortoise.close_connections()
        raise
    await check_and_close()


async def no_transaction(sim: harness.Sim) -> None:
    await start()

    async def increment() -> None:
        counter = await Counter.get(id=1)
        counter.n += 1
        await counter.save()

    try:
        await asyncio.gather(increment(), increment())
    except BaseException:
        await Tortoise.close_connections()
        raise
    await check_and_close()


async def two_connections(sim: harness.Sim) -> None:
    await start(("first", "second"))

    async def increment(name: str) -> None:
        async with in_transaction(name) as conn:
            counter = await Counter.get(id=1).using_db(conn)
            counter.n += 1
            await counter.save(using_db=conn)

    try:
        await asyncio.gather(increment("first"), increment("second"))
    except BaseException:
        await Tortoise.close_connections()
        raise
    await check_and_close()


def _app(attr: str, bug: str | None = None, **kw: Any) -> App:
    return App("tortoise", attr, __name__, attr, bug=bug, **kw)


APPS = [
    _app("in_transactions", exhaustive_cap=50),
    _app("no_transaction", LOST_UPDATE),
    _app("two_connections", LOCKED),
]
