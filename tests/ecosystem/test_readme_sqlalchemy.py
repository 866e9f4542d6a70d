# tests/ecosystem/test_readme_sqlalchemy.py
import asyncio

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Page(Base):
    __tablename__ = "pages"
    id: Mapped[int] = mapped_column(primary_key=True)
    visits: Mapped[int] = mapped_column(default=0)


def make_engine(url="sqlite+aiosqlite:///app.db", begin="BEGIN IMMEDIATE"):
    engine = create_async_engine(url)

    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # pysqlite's own BEGIN off

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn):
        conn.exec_driver_sql(begin)  # with a deferred "BEGIN": database is locked

    return engine


async def count_two_visits(engine):
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    sessions = async_sessionmaker(engine)
    async with sessions.begin() as session:
        session.add(Page(id=1))

    async def visit():  # one request
        async with sessions.begin() as session:
            page = await session.get(Page, 1)
            page.visits += 1

    try:
        await asyncio.gather(visit(), visit())
        async with sessions() as session:
            assert (await session.get(Page, 1)).visits == 2
    finally:
        await engine.dispose()


@pytest.mark.harness
async def test_two_requests_count_two_visits(sim):
    await count_two_visits(make_engine())


# end of README example


def test_the_deferred_begin_the_comment_warns_about_is_found() -> None:
    import sqlite3

    import harness

    async def body(sim: harness.Sim) -> None:
        await count_two_visits(make_engine(begin="BEGIN"))

    result = harness.explore(body, schedules=50)
    assert result.failed
    cause = result.failures[0].error.orig  # type: ignore[attr-defined]
    assert isinstance(cause, sqlite3.OperationalError) and str(cause) == "database is locked"
