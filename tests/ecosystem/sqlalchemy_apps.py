"""SQLAlchemy 2.x async: a counter two sessions increment at once.

Correct apps serialise the read-modify-write: SQLAlchemy's documented SQLite
recipe with ``BEGIN IMMEDIATE`` (default queue pool, ``NullPool``, WAL), an
``isolation_level="AUTOCOMMIT"`` engine that issues its own ``BEGIN
IMMEDIATE``, and a ``StaticPool`` engine (one shared connection) whose
sessions take turns behind an ``asyncio.Lock``. Racy apps: the default
engine (pysqlite's deferred transactions: both sessions read before either
writes — a lost update), and the recipe as SQLAlchemy's documentation shows
it, with a plain deferred ``BEGIN`` (both sessions hold a read lock when they
try to write: SQLite fails one at once with ``database is locked``).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from sqlalchemy import event, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.pool import NullPool, StaticPool

import harness
from tests.ecosystem._check import LOCKED, LOST_UPDATE, App, lost_update

URL = "sqlite+aiosqlite:///counter.db"


class Base(DeclarativeBase):
    pass


class Counter(Base):
    __tablename__ = "counter"
    id: Mapped[int] = mapped_column(primary_key=True)
    n: Mapped[int]


def sqlite_recipe(
    engine: AsyncEngine, begin: str = "BEGIN IMMEDIATE", wal: bool = False
) -> AsyncEngine:
    """SQLAlchemy's SQLite recipe: pysqlite's implicit BEGIN off, our own BEGIN in "begin"."""

    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_connection: Any, connection_record: Any) -> None:
        dbapi_connection.isolation_level = None
        if wal:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql(begin)

    return engine


async def create_schema(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
        await conn.execute(insert(Counter).values(id=1, n=0))


async def two_sessions_increment(engine: AsyncEngine, lock: Any = None) -> None:
    """Create the counter, let two sessions increment it concurrently, check both survived."""
    try:
        await create_schema(engine)
        sessions = async_sessionmaker(engine, expire_on_commit=False)

        async def increment() -> None:
            async with lock or contextlib.nullcontext(), sessions() as session, session.begin():
                counter = await session.get(Counter, 1)
                assert counter is not None
                counter.n += 1

        await asyncio.gather(increment(), increment())
        async with sessions() as session:
            n = await session.scalar(select(Counter.n).where(Counter.id == 1))
        lost_update(n or 0)
    finally:
        await engine.dispose()


async def recipe(sim: harness.Sim) -> None:
    await two_sessions_increment(sqlite_recipe(create_async_engine(URL)))


async def recipe_null_pool(sim: harness.Sim) -> None:
    await two_sessions_increment(sqlite_recipe(create_async_engine(URL, poolclass=NullPool)))


async def recipe_wal(sim: harness.Sim) -> None:
    await two_sessions_increment(sqlite_recipe(create_async_engine(URL), wal=True))


async def static_pool_with_lock(sim: harness.Sim) -> None:
    engine = create_async_engine(URL, poolclass=StaticPool)  # one connection for every session
    await two_sessions_increment(engine, lock=asyncio.Lock())


async def autocommit(sim: harness.Sim) -> None:
    engine = create_async_engine(URL, isolation_level="AUTOCOMMIT")
    try:
        await create_schema(engine)

        async def increment() -> None:
            async with engine.connect() as conn:
                await conn.exec_driver_sql("BEGIN IMMEDIATE")
                n = await conn.scalar(select(Counter.n).where(Counter.id == 1))
                await conn.execute(update(Counter).where(Counter.id == 1).values(n=(n or 0) + 1))
                await conn.exec_driver_sql("COMMIT")

        await asyncio.gather(increment(), increment())
        async with engine.connect() as conn:
            lost_update(await conn.scalar(select(Counter.n)) or 0)
    finally:
        await engine.dispose()


async def default_engine(sim: harness.Sim) -> None:
    await two_sessions_increment(create_async_engine(URL))


async def recipe_deferred_begin(sim: harness.Sim) -> None:
    await two_sessions_increment(sqlite_recipe(create_async_engine(URL), begin="BEGIN"))


def _app(attr: str, bug: str | None = None, **kw: Any) -> App:
    return App("sqlalchemy", attr, __name__, attr, bug=bug, **kw)


APPS = [
    _app("recipe", exhaustive_cap=2500),
    _app("recipe_null_pool", exhaustive_cap=4000),
    _app("recipe_wal"),  # Exhaustive(bound=2): 4000 schedules pass without covering the bound
    _app("static_pool_with_lock", exhaustive_cap=50),
    _app("autocommit", exhaustive_cap=3200),
    _app("default_engine", LOST_UPDATE),
    _app("recipe_deferred_begin", LOCKED),
]
