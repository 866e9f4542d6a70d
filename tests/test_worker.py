"""The simulated aiosqlite worker (``harness.sqlite._worker``): connections past their process.

A schedule (and each incarnation after a crash) is a process of its own.
A connection kept past its end — in a module-level engine or cache — may be
closed or stopped later (there is nothing left to close: it succeeds at
once), which is how ``engine.dispose()`` in ``setup=`` or ``teardown=``
forgets it; any other use is a one-line ``HarnessError`` naming it and the
remedy.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiosqlite
import pytest

import harness

kept: dict[str, Any] = {}


async def keep_open(sim: harness.Sim) -> None:
    db = await aiosqlite.connect("kept.db")
    await db.execute("CREATE TABLE IF NOT EXISTS t(x)")
    kept["db"] = db  # outlives the schedule


@pytest.fixture(autouse=True)
def _forget_kept() -> Any:
    yield
    kept.clear()


def test_a_kept_connection_can_be_closed_in_a_later_schedule() -> None:
    assert not harness.explore(keep_open, schedules=1).failed

    async def close_it(sim: harness.Sim) -> None:
        await kept["db"].close()
        assert kept["db"]._connection is None  # aiosqlite's own close() finished

    result = harness.explore(close_it, schedules=1)  # it changes what it was given: run once
    assert not result.failed, result.failures and result.failures[0].error


def test_any_other_use_in_a_later_schedule_names_the_connection_and_the_remedy() -> None:
    assert not harness.explore(keep_open, schedules=1).failed

    async def use_it(sim: harness.Sim) -> None:
        try:
            await kept["db"].execute("SELECT 1")
        except harness.HarnessError:
            pass  # swallowed by the body: exploration stops with it all the same

    with pytest.raises(harness.HarnessError) as caught:
        harness.explore(use_it, schedules=1)
    message = str(caught.value)
    assert "\n" not in message
    assert "kept.db#1" in message and "earlier schedule" in message
    assert "teardown=" in message and "setup=" in message


def test_a_kept_connection_closes_outside_any_simulation_and_refuses_other_use() -> None:
    assert not harness.explore(keep_open, schedules=1).failed
    db = kept["db"]

    async def use_then_close() -> str:
        try:
            await db.execute("SELECT 1")
        except harness.HarnessError as error:
            message = str(error)
        await db.close()
        return message

    message = asyncio.run(use_then_close())
    assert "used outside any" in message and db._connection is None


def test_a_setup_disposes_of_what_the_crashed_process_left() -> None:
    """After a crash, recover's process starts with setup: the old connections close quietly."""
    pool: list[Any] = []

    async def setup(sim: harness.Sim) -> None:
        while pool:
            await pool.pop().close()

    async def body(sim: harness.Sim) -> None:
        db = await aiosqlite.connect("crash.db", isolation_level=None)
        pool.append(db)
        await db.execute("CREATE TABLE IF NOT EXISTS t(x)")
        await db.execute("INSERT INTO t VALUES (1)")
        await asyncio.sleep(1)

    recovered: list[int] = []

    async def recover(sim: harness.Sim) -> None:
        recovered.append(sim.crashes)
        await body(sim)

    result = harness.explore(
        body,
        schedules=30,
        strategy="random",
        faults=harness.Faults(crash=1),
        recover=recover,
        setup=setup,
        teardown=setup,
    )
    assert not result.failed, result.failures and result.failures[0].error
    assert recovered, "some schedule crashed"


def test_a_crash_leaves_no_stock_event_loop_behind() -> None:
    """Abandoned tasks' finally blocks reach aiosqlite, which asks asyncio for the loop first."""
    import gc
    import warnings

    async def body(sim: harness.Sim) -> None:
        db = await sim.connect("a.db", isolation_level=None)
        await db.execute("CREATE TABLE IF NOT EXISTS t(x)")

        async def worker() -> None:
            try:
                await asyncio.sleep(10)
            finally:  # closed by the crash: aiosqlite calls asyncio.get_event_loop() here
                await db.execute("INSERT INTO t VALUES ('finally')")

        task = asyncio.create_task(worker())
        await asyncio.sleep(0)
        await db.execute("INSERT INTO t VALUES ('work')")  # where the crash may strike
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await db.close()

    async def recover(sim: harness.Sim) -> None:
        pass

    result = harness.explore(
        body, schedules=20, strategy="random", faults=harness.Faults(crash=1), recover=recover
    )
    assert not result.failed
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        asyncio.set_event_loop(None)  # drops any loop asyncio created and kept meanwhile
        gc.collect()
    assert not [w for w in caught if "unclosed event loop" in str(w.message)]
