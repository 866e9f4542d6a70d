"""The plugin among the pytest plugins users have, and what pytest's own outcomes mean.

pytest-timeout, pytest-rerunfailures, pytest-randomly and pytest-cov come with
the test extra; each inner run that depends on one loads it in a fresh
subprocess (`-p randomly` turns pytest-randomly back on: tests/conftest.py turns
it off for inner runs).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import aiosqlite  # noqa: F401  (imported once here, as are the engine and Hypothesis)
import hypothesis  # noqa: F401  (imported once here, not again in every in-process run)
import pytest

import harness._explore
import harness.strategies  # noqa: F401
from tests.test_plugin import LWW, outcomes, replay_lines

pytest_plugins = ["pytester"]

TIMEOUT = 300  # a hang guard for each inner run, not an assertion


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-rA", "-p", "no:cacheprovider", *args, timeout=TIMEOUT)


# ------------------------------------------------------------ pytest outcomes
def test_skip_xfail_and_fail_in_a_body_keep_their_pytest_meaning(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_outcomes="""
        import asyncio
        import pytest

        @pytest.mark.harness(schedules=20)
        async def test_skips(sim):
            await asyncio.sleep(1)
            pytest.skip("no database here")

        @pytest.mark.harness(schedules=20)
        async def test_xfails(sim):
            pytest.xfail("known race")

        @pytest.mark.xfail(reason="the marker", strict=True)
        @pytest.mark.harness(schedules=20)
        async def test_xfail_marker(sim):
            assert sim.now() == 1

        @pytest.mark.harness(schedules=20)
        async def test_fails(sim):
            db = await sim.connect("o.db")
            pytest.fail("the data is wrong")
        """
    )
    result = pytester.runpytest("-rA")
    result.assert_outcomes(skipped=1, xfailed=2, failed=1)
    result.stdout.fnmatch_lines_random(
        [
            "SKIPPED [[]1[]] test_outcomes.py:*: no database here",
            "XFAIL test_outcomes.py::test_xfails*known race",
            "FAILED test_outcomes.py::test_fails - Failed: the data is wrong",
        ]
    )
    # pytest's outcomes are not failing schedules: no token (the xfail marker's test, a real
    # assertion failure, has one; pytest 8.1's -rA shows it)
    assert set(replay_lines(result.stdout.str())) <= {"test_outcomes.py::test_xfail_marker"}


def test_a_timeout_is_reported_as_a_timeout(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_slow="""
        import pytest

        @pytest.mark.timeout(2, method="signal")
        @pytest.mark.harness(schedules=5)
        async def test_spins(sim):
            while True:  # no await: nothing but the timeout can stop it
                pass

        @pytest.mark.harness(schedules=5)
        async def test_quick(sim):
            pass
        """
    )
    result = run(pytester, "--timeout=600")
    result.assert_outcomes(failed=1, passed=1)
    # pytest-timeout's wording differs between versions: "Timeout >2.0s", "Timeout (>2.0s) from ..."
    result.stdout.fnmatch_lines(["FAILED test_slow.py::test_spins - Failed: Timeout*2.0s*"])
    output = result.stdout.str()
    assert "--harness-replay" not in output and "timeline (" not in output


# ------------------------------------------------------------------ reruns
FLAKY_PLAIN = """
import pathlib

def test_plain_flake():
    marker = pathlib.Path("ran-once")
    if not marker.exists():
        marker.write_text("1")
        raise AssertionError("first run fails")
"""


def test_rerunfailures_does_not_rerun_a_harness_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_lww=LWW, test_flaky=FLAKY_PLAIN)
    result = run(pytester, "--reruns=2", "--junitxml=junit.xml")
    counts = result.parseoutcomes()
    assert counts.get("rerun") == 1  # the plain flake, once: the plugin is active
    assert (counts.get("passed"), counts.get("failed")) == (2, 1)
    assert outcomes(result.stdout.str())["test_lww.py::test_parallel_lww"] == "FAILED"
    tree = ET.parse(pytester.path / "junit.xml")
    tokens = [p.get("value") for p in tree.iter("property") if p.get("name") == "harness_token"]
    assert len(tokens) == 1 and tokens[0] in replay_lines(result.stdout.str()).values()


# ------------------------------------------------------------- randomness
def test_randomly_neither_reorders_nor_reseeds_the_results(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_lww=LWW)
    pytester.makepyfile(
        test_more="""
        import random
        import pytest
        from test_lww import last_writer

        @pytest.mark.harness(mode="parallel", strategy="random")
        @pytest.mark.parametrize("n", [1, 2, 3])
        async def test_random(sim, n):
            assert await last_writer(sim) == ("v2",)

        @pytest.mark.harness(schedules=30, strategy="random")
        async def test_uses_random(sim):
            random.random()  # the module-level generator: seeded by harness per schedule
            assert await last_writer(sim) == ("v2",)
        """
    )
    plain = run(pytester)
    runs = [run(pytester, "-p", "randomly", f"--randomly-seed={seed}") for seed in (1, 2)]
    for shuffled in runs:
        assert "Using --randomly-seed=" in shuffled.stdout.str()
        assert outcomes(shuffled.stdout.str()) == outcomes(plain.stdout.str())
        assert replay_lines(shuffled.stdout.str()) == replay_lines(plain.stdout.str())
    assert len(replay_lines(plain.stdout.str())) == 4
    order = [
        [m.group(1) for m in re.finditer(r"^(?:PASSED|FAILED) (\S+)", r.stdout.str(), re.M)]
        for r in runs
    ]
    assert order[0] != order[1]  # the seeds did reorder the tests


# ------------------------------------------------------------------ coverage
def test_coverage_measures_the_app_and_changes_nothing(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        app="""
        async def save(db, value):
            await db.execute("INSERT OR REPLACE INTO kv VALUES ('k', ?)", (value,))


        async def load(db):
            return await db.execute_fetchall("SELECT v FROM kv")
        """,
        test_app="""
        import asyncio
        import pytest
        from app import load, save

        @pytest.mark.harness(mode="parallel")
        async def test_lww(sim):
            db = await sim.connect("c.db", isolation_level=None)
            await db.execute("CREATE TABLE kv(k TEXT PRIMARY KEY, v TEXT)")
            await asyncio.gather(save(db, "v1"), save(db, "v2"))
            assert await load(db) == [("v2",)]
        """,
    )
    plain = run(pytester)
    covered = run(pytester, "--cov=app", "--cov-report=term-missing")
    assert replay_lines(covered.stdout.str()) == replay_lines(plain.stdout.str())
    assert len(replay_lines(plain.stdout.str())) == 1
    covered.stdout.fnmatch_lines(["app.py * 100%*"])


# -------------------------------------------------- per-schedule set-up/teardown
ENGINE_APP = """
import aiosqlite

_db = None  # the module-level "engine" of a FastAPI-style app
OPENED = []


async def get_db():
    global _db
    if _db is None:
        _db = await aiosqlite.connect("app.db", isolation_level=None)
        await _db.execute("CREATE TABLE IF NOT EXISTS hits(n)")
        OPENED.append(1)
    return _db


async def dispose(sim):
    global _db
    if _db is not None:
        await _db.close()
        _db = None


async def start(sim):
    OPENED.append(0)
"""


def test_setup_and_teardown_run_around_every_schedule(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        app=ENGINE_APP,
        test_engine="""
        import pytest
        import app

        @pytest.mark.harness(schedules=20, setup=app.start, teardown=app.dispose)
        async def test_hits(sim):
            db = await app.get_db()
            await db.execute("INSERT INTO hits VALUES (1)")
            assert await db.execute_fetchall("SELECT count(*) FROM hits") == [(1,)]

        def test_each_schedule_opened_its_own():
            assert app.OPENED == [0, 1] * 20
        """,
    )
    result = run(pytester)
    result.assert_outcomes(passed=2)


def test_setup_and_teardown_from_the_command_line(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        app=ENGINE_APP,
        test_engine="""
        import pytest
        import app

        @pytest.mark.harness(schedules=20)
        async def test_hits(sim):
            db = await app.get_db()
            await db.execute("INSERT INTO hits VALUES (1)")

        def test_each_schedule_opened_its_own():
            assert app.OPENED == [0, 1] * 20
        """,
    )
    run(pytester, "--harness-setup=app:start", "--harness-teardown=app:dispose").assert_outcomes(
        passed=2
    )
    bad = run(pytester, "--harness-setup=app.start")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    assert "expected MODULE:FUNCTION, got 'app.start'" in bad.stderr.str()
    missing = run(pytester, "--harness-teardown=nowhere:dispose")
    missing.stdout.fnmatch_lines(
        ["*--harness-teardown=nowhere:dispose: ModuleNotFoundError: No module named 'nowhere'"]
    )


def test_marker_hooks_must_be_async_functions(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_bad="""
        import pytest

        def sync_setup(sim):
            pass

        @pytest.mark.harness(setup=sync_setup)
        async def test_x(sim):
            pass
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["@pytest.mark.harness on test_x: setup= must be an async function taking a Sim, *"]
    )


# ------------------------------------------------------------------ summaries
def test_a_passing_test_says_what_it_ran(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_ok="""
        import asyncio
        import pytest

        async def two_saves(sim):
            db = await sim.connect("s.db", isolation_level=None)
            lock = asyncio.Lock()

            async def save(v):
                async with lock:
                    await db.execute("SELECT ?", (v,))

            await asyncio.gather(save(1), save(2))
            await db.close()

        @pytest.mark.harness(schedules=30, mode="parallel")
        async def test_budget(sim):
            await two_saves(sim)

        @pytest.mark.harness(strategy="exhaustive", schedules=10_000, mode="parallel")
        async def test_proof(sim):
            await two_saves(sim)
        """
    )
    for args in ((), ("-v",)):
        result = pytester.runpytest(*args)
        result.assert_outcomes(passed=2)
        result.stdout.fnmatch_lines(
            [
                "*- harness -*",
                "test_ok.py::test_budget: 30 schedules (portfolio, mode parallel), * distinct: "
                "no failure",
                "test_ok.py::test_proof: exhausted: all * schedules within 2 deviations pass "
                "(mode parallel)",
            ]
        )
    quiet = pytester.runpytest("-q")
    assert "schedules" not in quiet.stdout.str()
    verbose = pytester.runpytest("-rA")
    verbose.stdout.fnmatch_lines(["PASSED test_ok.py::test_budget"])  # the word is unchanged


def test_a_complete_search_says_every_schedule_passes(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_all="""
        import asyncio
        import harness
        import pytest

        @pytest.mark.harness(strategy=harness.Exhaustive(None), schedules=10_000)
        async def test_two_files(sim):
            a = await sim.connect("a.db", isolation_level=None)
            b = await sim.connect("b.db", isolation_level=None)
            await asyncio.gather(a.execute("SELECT 1"), b.execute("SELECT 2"))
            await a.close()
            await b.close()
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "test_all.py::test_two_files: exhausted: every schedule passes (* run: each order "
            "of steps that commute once)"
        ]
    )


def test_summaries_reach_the_controller_under_xdist(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_lww=LWW)
    result = run(pytester, "-n", "2")
    result.stdout.fnmatch_lines(
        ["test_lww.py::test_fifo_lww: 50 schedules (portfolio), * distinct: no failure"]
    )
