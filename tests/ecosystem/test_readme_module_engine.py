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

    harness.check(handle_request, schedules=1, setup=dispose)  # whatever ran before: start clean
    try:
        harness.explore(handle_request, schedules=3)
    except harness.HarnessError as error:
        message = str(error)
    else:
        raise AssertionError("the second schedule used the first one's connection")
    assert "\n" not in message and "earlier schedule" in message
    assert "teardown=" in message and "engine.dispose()" in message
    with warnings.catch_warnings():  # the aborted schedule's session never returned its connection
        warnings.simplefilter("ignore", SAWarning)
        gc.collect()
    harness.check(handle_request, schedules=2, setup=dispose)  # disposing at the start works too
