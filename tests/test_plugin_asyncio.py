"""Harness tests in projects that use pytest-asyncio: strict and auto mode, async fixtures.

Each inner run is a subprocess (pytest-asyncio and the mode must load fresh).
The suite's own pytest-asyncio is the newest supported release; `.ci/run`'s
lowest-dependency run covers the oldest (harness/_thirdparty/pytest_asyncio.py).
"""

from __future__ import annotations

import shlex
from importlib.metadata import version

import pytest

from tests.test_plugin import REPLAY_LINE, outcomes, replay_lines

pytest_plugins = ["pytester"]

TIMEOUT = 300  # a hang guard for each inner run, not an assertion

# Fixtures as a pytest-asyncio user writes them. DECORATOR is `pytest_asyncio.fixture`
# (strict mode) or `pytest.fixture` (auto mode). Every schedule must get fresh ones, on
# its own loop: LOG records what each fixture saw, and test_log checks it afterwards.
FIXTURES = """
import asyncio

import aiosqlite
import pytest
import pytest_asyncio

LOG = []


@{decorator}
async def db():
    conn = await aiosqlite.connect("app.db", isolation_level=None)
    await conn.execute("CREATE TABLE IF NOT EXISTS kv(k TEXT PRIMARY KEY, v TEXT)")
    LOG.append(("db up", asyncio.get_running_loop()))  # kept alive: ids stay distinct
    yield conn
    await conn.close()
    LOG.append(("db down", asyncio.get_running_loop()))


@{decorator}
async def seeded(db):
    await db.execute("INSERT OR REPLACE INTO kv VALUES ('k', 'seed')")
    return db


@pytest.fixture
def store(seeded):  # a sync fixture of an async one: inside the schedule too
    return {{"db": seeded}}


@pytest.fixture
def label():  # a plain sync fixture: set up once per test, as always
    LOG.append(("label", 0))
    return "v"
"""

TESTS = """
import asyncio

import pytest

from fixtures import LOG


async def last_writer(db):
    async def save(value):
        await db.execute("INSERT OR REPLACE INTO kv VALUES ('k', ?)", (value,))

    await asyncio.gather(save("v1"), save("v2"))
    return await db.execute_fetchall("SELECT v FROM kv")


@pytest.mark.harness(schedules=5)
async def test_fixtures_per_schedule(sim, store, label):
    LOG.append(("body", asyncio.get_running_loop()))
    rows = await store["db"].execute_fetchall("SELECT v FROM kv")
    assert rows == [("seed",)] and label == "v"


def test_log():
    body_loops = [loop for what, loop in LOG if what == "body"]
    assert [what for what, _ in LOG] == ["label"] + ["db up", "body", "db down"] * 5
    assert len(set(body_loops)) == 5  # a fresh loop per schedule ...
    ups = [loop for what, loop in LOG if what == "db up"]
    assert ups == body_loops  # ... and the fixture ran on it


@pytest.mark.harness(schedules=50, mode="parallel")
async def test_race_with_a_fixture(sim, db):
    assert await last_writer(db) == [("v2",)]


@pytest.mark.asyncio
async def test_plain_asyncio_test(db):  # not a harness test: pytest-asyncio's, as always
    assert type(asyncio.get_running_loop()).__name__ != "ControlledLoop"
    assert await db.execute_fetchall("SELECT count(*) FROM kv") == [(0,)]  # the real file
"""


def project(pytester: pytest.Pytester, mode: str, marked: str = "") -> None:
    decorator = "pytest_asyncio.fixture" if mode == "strict" else "pytest.fixture"
    pytester.makeini(
        f"[pytest]\nasyncio_mode = {mode}\nasyncio_default_fixture_loop_scope = function\n"
    )
    pytester.makeconftest("from fixtures import db, seeded, store, label  # noqa: F401\n")
    pytester.makepyfile(fixtures=FIXTURES.format(decorator=decorator))
    pytester.makepyfile(test_app=marked + TESTS)


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-rA", "-p", "no:cacheprovider", *args, timeout=TIMEOUT)


@pytest.mark.parametrize(
    ("mode", "marked"),
    [
        ("strict", ""),
        ("strict", "import pytest\npytestmark = pytest.mark.asyncio\n"),
        ("auto", ""),
    ],
    ids=["strict", "strict-pytestmark", "auto"],
)
def test_async_fixtures_run_inside_each_schedule(
    pytester: pytest.Pytester, mode: str, marked: str
) -> None:
    project(pytester, mode, marked)
    result = run(pytester)
    output = result.stdout.str()
    assert outcomes(output) == {
        "test_app.py::test_fixtures_per_schedule": "PASSED",
        "test_app.py::test_log": "PASSED",
        "test_app.py::test_race_with_a_fixture": "FAILED",
        "test_app.py::test_plain_asyncio_test": "PASSED",
    }, output
    assert "must be an `async def` function" not in output
    result.stdout.fnmatch_lines(["AssertionError: assert [('v1',)] == [('v2',)]"])
    # the token replays, fixtures and all
    (line,) = REPLAY_LINE.findall(output)
    again = run(pytester, *shlex.split(line)[1:])
    again.assert_outcomes(failed=1)
    assert "harness: the replayed schedule failed (mode parallel, 1 deviation(s))" in (
        again.stdout.str()
    )


def test_tokens_do_not_depend_on_the_mode(pytester: pytest.Pytester) -> None:
    project(pytester, "strict")
    strict = replay_lines(run(pytester).stdout.str())
    project(pytester, "auto")
    auto = replay_lines(run(pytester).stdout.str())
    assert strict == auto and len(strict) == 1


def test_a_wider_scoped_async_fixture_is_refused_in_one_line(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_mode = auto\n")  # loop scope: the fixture's
    pytester.makepyfile(
        test_scoped="""
        import pytest

        STARTED = []


        @pytest.fixture(scope="session")
        async def engine():
            STARTED.append("engine")
            yield "engine"


        @pytest.fixture(autouse=True, scope="module")
        async def warm_cache():  # not requested: left to pytest-asyncio, as always
            STARTED.append("cache")


        @pytest.mark.harness(schedules=3)
        async def test_uses_engine(sim, engine):
            pass


        @pytest.mark.harness(schedules=3)
        async def test_without(sim):
            pass


        def test_started():
            assert STARTED == ["cache"]  # harness refused before pytest-asyncio ran it
        """
    )
    result = run(pytester)
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            "harness test test_uses_engine: async fixture 'engine' has scope 'session', but "
            "harness sets a test's async fixtures up inside each schedule (fresh per schedule, "
            "on its loop); make 'engine' function-scoped, or create what it holds in "
            "@pytest.mark.harness(setup=...)"
        ]
    )
    assert "Traceback" not in result.stdout.str()


OLD_ASYNCIO = tuple(int(p) for p in version("pytest-asyncio").split(".")[:2]) < (1, 0)


@pytest.mark.skipif(not OLD_ASYNCIO, reason="pytest-asyncio 1.0 removed the event_loop fixture")
def test_the_event_loop_fixture_is_the_schedules_loop(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_loop="""
        import asyncio
        import pytest

        @pytest.mark.asyncio
        @pytest.mark.harness(schedules=3)
        async def test_loop(sim, event_loop):
            assert event_loop is asyncio.get_running_loop()
        """
    )
    run(pytester).assert_outcomes(passed=1)


def test_stress_measures_harness_tests_in_auto_mode(pytester: pytest.Pytester) -> None:
    import json

    project(pytester, "auto")
    result = run(pytester, "--harness-stress=20", "--harness-report=out")
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    cells = json.loads((pytester.path / "out" / "report.json").read_text())["cells"]
    race = next(c for c in cells if c["name"] == "test_app.py::test_race_with_a_fixture")
    assert race["mode"] == "sim" and race["runs"] == 20 and race["failures"] > 0
