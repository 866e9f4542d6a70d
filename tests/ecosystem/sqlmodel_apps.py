"""SQLModel: the SQLAlchemy apps written with SQLModel's models and ``AsyncSession``.

Correct: the documented SQLite recipe with ``BEGIN IMMEDIATE``. Racy: the
default engine (a lost update) and the recipe with a deferred ``BEGIN``
(``database is locked`` when both sessions try to upgrade their read lock).
"""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlmodel import Field, SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

import harness
from tests.ecosystem._check import LOCKED, LOST_UPDATE, App, lost_update
from tests.ecosystem.sqlalchemy_apps import sqlite_recipe

URL = "sqlite+aiosqlite:///hero.db"


class Hero(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str
    visits: int = 0


async def two_sessions_visit(engine: AsyncEngine) -> None:
    try:
        async with engine.begin() as conn:
            await conn.run_sync(SQLModel.metadata.create_all)
        async with AsyncSession(engine) as session:
            session.add(Hero(id=1, name="Deadpond"))
            await session.commit()

        async def visit() -> None:
            async with AsyncSession(engine) as session:
                hero = (await session.exec(select(Hero).where(Hero.id == 1))).one()
                hero.visits += 1
                session.add(hero)
                await session.commit()

        await asyncio.gather(visit(), visit())
        async with AsyncSession(engine) as session:
            hero = await session.get(Hero, 1)
        assert hero is not None
        lost_update(hero.visits)
    finally:
        await engine.dispose()


async def recipe(sim: harness.Sim) -> None:
    await two_sessions_visit(sqlite_recipe(create_async_engine(URL)))


async def default_engine(sim: harness.Sim) -> None:
    await two_sessions_visit(create_async_engine(URL))


async def recipe_deferred_begin(sim: harness.Sim) -> None:
    await two_sessions_visit(sqlite_recipe(create_async_engine(URL), begin="BEGIN"))


APPS = [
    App("sqlmodel", "recipe", __name__, "recipe", exhaustive_cap=2500),
    App("sqlmodel", "default_engine", __name__, "default_engine", bug=LOST_UPDATE),
    App("sqlmodel", "recipe_deferred_begin", __name__, "recipe_deferred_begin", bug=LOCKED),
]
