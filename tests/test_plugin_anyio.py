"""anyio's pytest plugin with harness, whatever pytest-asyncio's mode.

An `@pytest.mark.anyio` test on `harness.anyio.simulated_backend()` runs on
harness's loop in virtual time — also in pytest-asyncio's auto mode, which
would otherwise take the test and run it on a stock loop in real time.
"""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

TIMEOUT = 300  # a hang guard for each inner run, not an assertion

SIMULATED = """
import asyncio
import time

import aiosqlite
import anyio
import pytest

from harness.anyio import simulated_backend

LOOPS = []


@pytest.fixture
def anyio_backend():
    return simulated_backend()


@pytest.fixture
async def db():
    LOOPS.append(type(asyncio.get_running_loop()).__name__)
    async with aiosqlite.connect("plain.db") as conn:
        await conn.execute("CREATE TABLE IF NOT EXISTS jobs(id INTEGER PRIMARY KEY)")
        yield conn


@pytest.mark.anyio
async def test_an_hour_in_virtual_time(db):
    start = time.monotonic()
    await anyio.sleep(3600)
    assert time.monotonic() - start == 3600.0  # virtual: a real hour would hang the run
    await db.execute("INSERT INTO jobs VALUES (1)")
    assert await db.execute_fetchall("SELECT id FROM jobs") == [(1,)]
    LOOPS.append(type(asyncio.get_running_loop()).__name__)


@pytest.mark.anyio
@pytest.mark.harness(schedules=7)
async def test_explored(sim):
    await anyio.sleep(100)
    assert sim.now() == 100


def test_the_fixture_shared_the_simulated_loop():
    assert LOOPS == ["ControlledLoop", "ControlledLoop"]
"""


@pytest.mark.parametrize("mode", ["strict", "auto"])
def test_simulated_backend_runs_on_harness_loop_in_any_asyncio_mode(
    pytester: pytest.Pytester, mode: str
) -> None:
    pytester.makeini(f"[pytest]\nasyncio_mode = {mode}\n")
    pytester.makepyfile(test_sim=SIMULATED)
    result = pytester.runpytest_subprocess("-rA", "-p", "no:cacheprovider", timeout=TIMEOUT)
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines_random(
        [
            "test_sim.py::test_an_hour_in_virtual_time: 1 schedule (default order, mode fifo): "
            "no failure",
            "test_sim.py::test_explored: 7 schedules (portfolio), * distinct: no failure",
        ]
    )


def test_a_failing_simulated_anyio_test_shows_its_timeline(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_mode = auto\n")
    pytester.makepyfile(
        test_fail="""
        import anyio
        import pytest
        from harness.anyio import simulated_backend

        @pytest.fixture
        def anyio_backend():
            return simulated_backend(mode="parallel")

        @pytest.mark.anyio
        async def test_times_out():
            with anyio.fail_after(5):
                await anyio.sleep(10)
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=TIMEOUT)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["TimeoutError*", "harness: schedule 1 failed (budget 1, strategy replay, mode parallel*"]
    )
