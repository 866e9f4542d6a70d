"""Schedule fixtures: what a harness test's async fixtures (and fixtures using `sim`) do."""

from __future__ import annotations

import aiosqlite  # noqa: F401  (imported once here, as are the engine and Hypothesis)
import hypothesis  # noqa: F401  (imported once here, not again in every in-process run)
import pytest

import harness._explore  # noqa: F401  (pytester restores sys.modules after an in-process run)

pytest_plugins = ["pytester"]


def test_fixtures_may_use_sim_params_and_finalizers(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_fx="""
        import asyncio
        import pytest

        EVENTS = []


        @pytest.fixture(params=["a.db", "b.db"])
        async def db(sim, request):
            conn = await sim.connect(request.param, isolation_level=None)
            request.addfinalizer(lambda: EVENTS.append(("finalizer", request.param)))
            yield conn
            await conn.close()
            EVENTS.append(("closed", request.param))


        @pytest.fixture
        def now(sim):  # a sync fixture of the schedule's Sim
            return sim.now


        class TestInAClass:
            @pytest.fixture
            async def table(self, db):
                await db.execute("CREATE TABLE t(x)")
                return "t"

            @pytest.mark.harness(schedules=3)
            async def test_it(self, sim, db, table, now):
                await asyncio.sleep(2)
                assert now() == 2.0
                await db.execute(f"INSERT INTO {table} VALUES (1)")
                EVENTS.append(("body", db is not None))


        def test_events():
            expected = []
            for name in ("a.db", "b.db"):
                expected += [("body", True), ("closed", name), ("finalizer", name)] * 3
            assert EVENTS == expected
        """
    )
    pytester.runpytest().assert_outcomes(passed=3)


def test_a_failing_finaliser_fails_the_schedule_unless_the_test_failed(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_fin="""
        import pytest

        @pytest.fixture
        async def broken_teardown():
            yield 1
            raise RuntimeError("teardown broke")

        @pytest.mark.harness(schedules=3)
        async def test_passes(sim, broken_teardown):
            pass

        @pytest.mark.harness(schedules=3)
        async def test_fails(sim, broken_teardown):
            raise KeyError("the body's own error")
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines_random(
        [
            "RuntimeError: teardown broke",
            '*File "test_fin.py", line 6, in broken_teardown',
            'KeyError: "the body\'s own error"',  # the test's own error wins
        ]
    )
    assert "FAILED test_fin.py::test_fails - KeyError" in result.stdout.str()


def test_a_crash_abandons_the_fixtures_of_the_crashed_process(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_crash="""
        import pytest
        import harness

        CLOSED = []

        @pytest.fixture
        async def db(sim):
            conn = await sim.connect("c.db", isolation_level=None)
            await conn.execute("CREATE TABLE IF NOT EXISTS t(x)")
            yield conn
            await conn.close()
            CLOSED.append(sim.crashes)

        async def recover(sim):
            conn = await sim.connect("c.db")
            await conn.execute_fetchall("SELECT * FROM t")
            await conn.close()

        @pytest.mark.harness(schedules=30, faults=harness.Faults(crash=1), recover=recover)
        async def test_writes(sim, db):
            await db.execute("INSERT INTO t VALUES (1)")
            await db.execute("INSERT INTO t VALUES (2)")

        def test_only_living_processes_closed_their_fixture():
            assert set(CLOSED) == {0} and 0 < len(CLOSED) < 30  # some schedules crashed
        """
    )
    result = pytester.runpytest("-W", "error::pytest.PytestUnraisableExceptionWarning")
    result.assert_outcomes(passed=2)
