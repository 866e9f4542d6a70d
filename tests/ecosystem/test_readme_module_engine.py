# tests/ecosystem/test_readme_module_engine.py
from sqlalchemy import text

import harness
from tests.ecosystem.fastapi_app import engine, get_db


async def handle_request(sim):
    async for db in get_db():
        await db.execute(text("CREATE TABLE IF NOT EXISTS hits(n INTEGER)"))
        await db.execute(text("INSERT INTO hits VALUES (1)"))
        await db.commit()


async def dispose(sim):  # at the end of every schedule: the pool forgets its connections
    await engine.dispose()


def test_a_module_level_engine_across_schedules():
    harness.check(handle_request, schedules=20, teardown=dispose)


# end of README example


def test_without_the_teardown_the_second_schedule_names_the_remedy() -> None:
    import gc
    import warnings

    from sqlalchemy.exc import SAWarning
    from sqlalchemy.ext.asyncio import create_async_engine
    from sqlalchemy.pool import AsyncAdaptedQueuePool

    # SQLAlchemy < 2.0.38 gives file databases a NullPool, which keeps nothing: pool explicitly
    pooled = create_async_engine("sqlite+aiosqlite:///app.db", poolclass=AsyncAdaptedQueuePool)

    async def request(sim):
        async with pooled.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose_pooled(sim):
        await pooled.dispose()

    try:
        harness.explore(request, schedules=3)
    except harness.HarnessError as error:
        message = str(error)
    else:
        raise AssertionError("the second schedule used the first one's connection")
    assert "\n" not in message and "earlier schedule" in message
    assert "teardown=" in message and "engine.dispose()" in message
    with warnings.catch_warnings():  # the aborted schedule never returned its connection
        warnings.simplefilter("ignore", SAWarning)
        gc.collect()
    harness.check(request, schedules=2, setup=dispose_pooled)  # disposing at the start works too
