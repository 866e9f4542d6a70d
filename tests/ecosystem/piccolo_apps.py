"""Piccolo (``SQLiteEngine`` runs on aiosqlite): a counter two tasks increment at once.

Piccolo opens a new aiosqlite connection for every query outside a
transaction, and one per transaction. Correct: the increments run in
``engine.transaction(TransactionType.immediate)``, the type Piccolo's
documentation recommends for writes. Racy: read then write with no
transaction (a lost update), and in a transaction of the default type,
``DEFERRED`` (both hold a read lock when they write: ``database is locked``).
"""

from __future__ import annotations

import asyncio

from piccolo.columns import Integer
from piccolo.engine.sqlite import SQLiteEngine, TransactionType
from piccolo.table import Table

import harness
from tests.ecosystem._check import LOCKED, LOST_UPDATE, App, lost_update

ENGINE = SQLiteEngine(path="piccolo.db")  # opens connections per query: no state to dispose


class Counter(Table, db=ENGINE):
    n = Integer()


async def start() -> None:
    await Counter.create_table(if_not_exists=True)
    await Counter.insert(Counter(id=1, n=0))


async def read_increment_write() -> None:
    row = await Counter.select(Counter.n).where(Counter.id == 1).first()
    assert row is not None
    await Counter.update({Counter.n: row["n"] + 1}).where(Counter.id == 1)


async def finish() -> None:
    row = await Counter.select(Counter.n).where(Counter.id == 1).first()
    assert row is not None
    lost_update(row["n"])


async def immediate_transactions(sim: harness.Sim) -> None:
    await start()

    async def increment() -> None:
        async with ENGINE.transaction(transaction_type=TransactionType.immediate):
            await read_increment_write()

    await asyncio.gather(increment(), increment())
    await finish()


async def no_transaction(sim: harness.Sim) -> None:
    await start()
    await asyncio.gather(read_increment_write(), read_increment_write())
    await finish()


async def deferred_transactions(sim: harness.Sim) -> None:
    await start()

    async def increment() -> None:
        async with ENGINE.transaction():
            await read_increment_write()

    await asyncio.gather(increment(), increment())
    await finish()


APPS = [
    App(
        "piccolo", "immediate_transactions", __name__, "immediate_transactions", exhaustive_cap=1200
    ),
    App("piccolo", "no_transaction", __name__, "no_transaction", bug=LOST_UPDATE),
    App("piccolo", "deferred_transactions", __name__, "deferred_transactions", bug=LOCKED),
]
