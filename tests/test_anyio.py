"""anyio code on harness's loop: under the marker, and as an ``anyio_backend``."""

from __future__ import annotations

import time

import anyio
import hypothesis  # noqa: F401  (imported once here, not again in every in-process run)
import pytest

import harness
from harness.anyio import simulated_backend

SCHEMA = "CREATE TABLE IF NOT EXISTS jobs(id INTEGER PRIMARY KEY, state TEXT)"


def double(x: int) -> int:
    return 2 * x


@pytest.mark.harness(schedules=40, strategy="random")
async def test_anyio_primitives_run_under_the_marker(sim: harness.Sim) -> None:
    finished: list[int] = []

    async def worker(delay: int) -> None:
        await anyio.sleep(delay)
        finished.append(delay)

    async with anyio.create_task_group() as tg:
        for delay in (3, 1, 2):
            tg.start_soon(worker, delay)
    assert finished == [1, 2, 3]  # virtual time orders the sleeps, whatever the schedule
    with anyio.move_on_after(10) as scope:
        await anyio.sleep(3600)
    assert scope.cancelled_caught
    assert await anyio.to_thread.run_sync(double, 21) == 42  # a simulated pool job
    assert sim.now() == 13.0


@pytest.mark.harness(schedules=60, mode="parallel")
async def test_anyio_task_group_with_the_fake_database(sim: harness.Sim) -> None:
    db = await sim.connect("jobs.db", isolation_level=None)
    await db.execute(SCHEMA)
    lock = anyio.Lock()

    async def claim(job: int) -> None:
        async with lock:  # serialises the two statements of each claim
            await db.execute("INSERT INTO jobs VALUES (?, 'new')", (job,))
            await db.execute("UPDATE jobs SET state = 'claimed' WHERE id = ?", (job,))

    async with anyio.create_task_group() as tg:
        for job in range(3):
            tg.start_soon(claim, job)
    async with db.execute("SELECT state FROM jobs ORDER BY id") as cursor:
        rows = await cursor.fetchall()
    await db.close()
    assert [tuple(r) for r in rows] == [("claimed",)] * 3


def test_a_failure_inside_a_task_group_is_reported(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_tg="""
        import anyio
        import pytest

        @pytest.mark.harness(schedules=5)
        async def test_group(sim):
            async def fail():
                await anyio.sleep(1)
                raise KeyError("lost")

            async with anyio.create_task_group() as tg:
                tg.start_soon(fail)
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["ExceptionGroup: unhandled errors in a TaskGroup (1 sub-exception)", "*KeyError: 'lost'"]
    )
    assert any(line.startswith("pytest 'test_tg.py::test_group'") for line in result.outlines)


# ----------------------------------------------- @pytest.mark.anyio on harness's loop
@pytest.fixture
def anyio_backend() -> tuple[str, dict[str, object]]:
    return simulated_backend()


@pytest.mark.anyio
async def test_a_plain_anyio_test_runs_in_virtual_time() -> None:
    import aiosqlite

    start = time.monotonic()
    await anyio.sleep(3600)
    assert time.monotonic() - start == 3600.0  # the virtual clock, not a wall-clock hour
    async with aiosqlite.connect("plain.db") as db:  # routed to the fake
        await db.execute(SCHEMA)
        await db.execute("INSERT INTO jobs VALUES (1, 'new')")
        async with db.execute("SELECT state FROM jobs") as cursor:
            assert await cursor.fetchall() == [("new",)]
    assert await anyio.to_thread.run_sync(double, 2) == 4


@pytest.fixture
async def database(anyio_backend: object):
    import aiosqlite

    async with aiosqlite.connect("fixture.db") as db:
        await db.execute(SCHEMA)
        yield db


@pytest.mark.anyio
async def test_async_fixtures_share_the_simulated_loop(database) -> None:
    await database.execute("INSERT INTO jobs VALUES (7, 'new')")
    async with database.execute("SELECT id FROM jobs") as cursor:
        assert await cursor.fetchall() == [(7,)]


def test_the_clock_is_real_again_after_a_simulated_test() -> None:
    assert abs(time.time() - 1_767_225_600.0) > 3600  # not the virtual epoch


def test_a_deadlock_in_a_simulated_anyio_test_is_named(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_dead="""
        import anyio
        import pytest
        from harness.anyio import simulated_backend

        @pytest.fixture
        def anyio_backend():
            return simulated_backend()

        @pytest.mark.anyio
        async def test_waits_forever():
            await anyio.Event().wait()
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*DeadlockError: deadlock at virtual time 0.000s: no callback is ready*"]
    )


def test_simulated_backend_checks_its_mode() -> None:
    assert simulated_backend(mode="parallel")[0] == "asyncio"
    with pytest.raises(ValueError, match="mode"):
        simulated_backend(mode="pooled")


def test_harness_runs_a_test_that_anyio_would_run_too(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_both="""
        import anyio
        import pytest

        @pytest.mark.anyio
        @pytest.mark.harness(schedules=3)
        async def test_marked_twice(sim):
            await anyio.sleep(100)
            assert sim.now() == 100

        async def test_auto_mode(sim):
            await anyio.sleep(100)
            assert sim.now() == 100
        """
    )
    for mode in ("strict", "auto"):  # the ini option: older anyio has no --anyio-mode flag
        result = pytester.runpytest("-o", f"anyio_mode={mode}", "-rP")
        outcomes = result.parseoutcomes()  # older anyio also runs the marked test on trio
        assert outcomes.get("failed", 0) == 0 and outcomes["passed"] >= 2, outcomes
        result.stdout.fnmatch_lines_random(
            ["3 schedules (portfolio, *", "200 schedules (portfolio, *"]
        )
