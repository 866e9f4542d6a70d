"""The pytest plugin, driven through pytester (in-process, or a subprocess for xdist)."""

from __future__ import annotations

import re
import shlex

import aiosqlite  # noqa: F401  (imported once here, as are the engine and Hypothesis: see below)
import hypothesis  # noqa: F401  (imported once here, not again in every in-process run)
import pytest

import harness._explore  # noqa: F401  (pytester restores sys.modules after an in-process run)
from harness.pytest_plugin import derive_seed
from harness.trace import decode_token

pytest_plugins = ["pytester"]

LWW = """
import asyncio
import hypothesis  # noqa: F401  (imported once here, not again in every in-process run)
import pytest

SCHEMA = "CREATE TABLE IF NOT EXISTS kv(k TEXT PRIMARY KEY, v TEXT)"


async def last_writer(sim):
    db = await sim.connect("app.db", isolation_level=None)
    await db.execute(SCHEMA)

    async def save(value):
        await db.execute("INSERT OR REPLACE INTO kv VALUES ('k', ?)", (value,))

    await asyncio.gather(save("v1"), save("v2"))
    async with db.execute("SELECT v FROM kv") as cursor:
        row = await cursor.fetchone()
    await db.close()
    return row


@pytest.mark.harness(mode="parallel")
async def test_parallel_lww(sim):
    assert await last_writer(sim) == ("v2",)


@pytest.mark.harness(mode="fifo", schedules=50)
async def test_fifo_lww(sim):
    assert await last_writer(sim) == ("v2",)
"""

REPLAY_LINE = re.compile(r"^pytest '[^']+' --harness-replay=h2\.\S+$", re.MULTILINE)


def replay_lines(output: str) -> dict[str, str]:
    """node id -> token, from every printed replay command."""
    found = {}
    for line in REPLAY_LINE.findall(output):
        _, nodeid, option = shlex.split(line)
        found[nodeid] = option.split("=", 1)[1]
    return found


def outcomes(output: str) -> dict[str, str]:
    """node id -> PASSED/FAILED, from the -rA short summary."""
    found = {}
    for line in output.splitlines():
        m = re.match(r"^(PASSED|FAILED|ERROR) (\S+)", line)
        if m:
            found[m.group(2)] = m.group(1)
    return found


def test_a_failing_test_prints_a_replay_command_that_reproduces_it(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_lww=LWW)
    result = pytester.runpytest("-rA")
    result.assert_outcomes(passed=1, failed=1)
    output = result.stdout.str()
    tokens = replay_lines(output)
    assert list(tokens) == ["test_lww.py::test_parallel_lww"]
    token = tokens["test_lww.py::test_parallel_lww"]
    assert decode_token(token).mode == "parallel" and decode_token(token).deviations == 1
    # the report: the error first, then the headline, the timeline, the command last
    result.stdout.fnmatch_lines(
        [
            "*_ test_parallel_lww _*",
            "AssertionError: assert ('v1',) == ('v2',)",
            "*",
            "harness: schedule * failed (budget 200, strategy portfolio, mode parallel, test seed*",
            "",
            "timeline (* steps):",
            "*<-- deviation",
            "*",
            "replay this schedule:",
            f"pytest 'test_lww.py::test_parallel_lww' --harness-replay={token}",
        ]
    )
    assert "FAILED test_lww.py::test_parallel_lww - AssertionError: assert" in output
    assert "Traceback" not in output  # harness's own frames are not shown

    (line,) = REPLAY_LINE.findall(output)
    again = pytester.runpytest(*shlex.split(line)[1:])
    again.assert_outcomes(failed=1)
    replayed = again.stdout.str()
    assert "AssertionError: assert ('v1',) == ('v2',)" in replayed
    assert "harness: the replayed schedule failed (mode parallel, 1 deviation(s))" in replayed
    assert line in replayed.splitlines()
    timeline = output[output.index("timeline (") : output.index("replay this schedule")]
    assert timeline in replayed  # the very same steps


def test_outcomes_and_tokens_are_the_same_under_xdist(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_lww=LWW)
    pytester.makepyfile(
        test_more="""
        import asyncio
        import pytest
        from test_lww import last_writer

        @pytest.mark.harness(mode="parallel", strategy="random")
        @pytest.mark.parametrize("n", [1, 2, 3])
        async def test_random(sim, n):
            assert await last_writer(sim) == ("v2",)

        @pytest.mark.harness(mode="parallel", strategy="exhaustive")
        async def test_exhaustive(sim):
            assert await last_writer(sim) == ("v2",)

        async def test_default_marker(sim):
            await asyncio.sleep(5)
            assert sim.now() == 5
        """
    )
    serial = pytester.runpytest_subprocess("-rA", "-p", "no:cacheprovider")
    spread = pytester.runpytest_subprocess("-rA", "-p", "no:cacheprovider", "-n", "2")
    serial_out, spread_out = serial.stdout.str(), spread.stdout.str()
    assert outcomes(serial_out) == outcomes(spread_out)
    assert len(outcomes(serial_out)) == 7
    assert replay_lines(serial_out) == replay_lines(spread_out)
    assert len(replay_lines(serial_out)) == 5
    serial.assert_outcomes(passed=2, failed=5)


def test_the_seed_comes_from_the_node_id_and_the_option() -> None:
    nodeid = "tests/test_x.py::test_y"
    assert derive_seed(nodeid, 0) == derive_seed(nodeid, 0)
    assert derive_seed(nodeid, 0) != derive_seed(nodeid, 1)
    assert derive_seed(nodeid, 0) != derive_seed("tests/test_x.py::test_z", 0)
    assert derive_seed(nodeid, 0) == 921687552  # pinned: blake2b, not hash()


def test_the_replay_command_is_relative_to_where_pytest_runs(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeini("[pytest]\n")
    sub = pytester.mkpydir("sub")
    (sub / "test_lww.py").write_text(LWW)
    monkeypatch.chdir(sub)
    result = pytester.runpytest("test_lww.py::test_parallel_lww")
    (nodeid,) = replay_lines(result.stdout.str())
    assert nodeid == "test_lww.py::test_parallel_lww"
    (line,) = REPLAY_LINE.findall(result.stdout.str())
    pytester.runpytest(*shlex.split(line)[1:]).assert_outcomes(failed=1)


def test_a_parametrized_node_id_is_quoted_and_replays(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_p="""
        import pytest

        @pytest.mark.harness(schedules=3)
        @pytest.mark.parametrize("word", ["it's a [b]"])
        async def test_p(sim, word):
            assert word == "no"
        """
    )
    result = pytester.runpytest()
    (line,) = [x for x in result.outlines if x.startswith("pytest '")]
    assert line.startswith("""pytest 'test_p.py::test_p[it'"'"'s a [b]]' --harness-replay=h2.""")
    assert shlex.split(line)[1] == "test_p.py::test_p[it's a [b]]"
    pytester.runpytest(*shlex.split(line)[1:]).assert_outcomes(failed=1)


def test_strict_markers_and_the_marker_help(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_ok="""
        import pytest

        @pytest.mark.harness(schedules=5)
        async def test_ok(sim):
            pass
        """
    )
    pytester.runpytest("--strict-markers").assert_outcomes(passed=1)
    pytester.runpytest("--markers").stdout.fnmatch_lines(["@pytest.mark.harness(schedules=200*"])


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("--harness-schedules=0", "expected a positive integer, got '0'"),
        ("--harness-schedules=many", "expected a positive integer, got 'many'"),
        ("--harness-seed=-1", "expected a non-negative integer, got '-1'"),
        (
            "--harness-strategy=dfs",
            "unknown strategy 'dfs' (choose from portfolio, pct, random, pos, exhaustive)",
        ),
        ("--harness-replay=h2.AAAA", "--harness-replay: replay token is truncated"),
        ("--harness-replay=h9.AAAA", "replay token of format h9 (from a newer harness)"),
        ("--harness-replay=nonsense", "--harness-replay: not a harness replay token"),
    ],
)
def test_bad_option_values_are_usage_errors(
    pytester: pytest.Pytester, option: str, message: str
) -> None:
    pytester.makepyfile(test_ok="async def test_ok(sim):\n    pass\n")
    result = pytester.runpytest(option)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str()
    assert "Traceback" not in result.stderr.str() + result.stdout.str()


def test_a_bad_token_gives_the_token_error_line(pytester: pytest.Pytester) -> None:
    from harness import TokenError

    token = "h1.AfjHxPIGBwEBAMv_Hs8np_X"  # one character changed: checksum mismatch
    with pytest.raises(TokenError) as info:
        decode_token(token)
    pytester.makepyfile(test_ok="async def test_ok(sim):\n    pass\n")
    result = pytester.runpytest(f"--harness-replay={token}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: --harness-replay: {info.value}"])


def test_options_override_the_marker(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_count="""
        import pytest

        RUNS = []

        @pytest.mark.harness(schedules=3, strategy="exhaustive")
        async def test_counted(sim):
            RUNS.append(sim.now())

        def test_how_many():
            assert len(RUNS) == 7
        """
    )
    result = pytester.runpytest("--harness-schedules=7", "--harness-strategy=random", "-rP")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["7 schedules (random, mode fifo, test seed *"])


def test_fixtures_are_passed_through_and_sim_alone_means_defaults(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_fx="""
        import asyncio
        import pytest

        @pytest.fixture
        def greeting():
            return "hello"

        async def test_plain(sim, greeting, tmp_path):
            assert greeting == "hello" and tmp_path.exists()
            await asyncio.sleep(3600)  # virtual time: costs nothing
            assert sim.now() == 3600.0
            db = await sim.connect("x.db")
            await db.execute("CREATE TABLE t(x)")
            await db.close()
        """
    )
    result = pytester.runpytest("-rP")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["200 schedules (portfolio, mode fifo, test seed *"])


def test_faults_and_recover_reach_explore(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_faults="""
        import pytest
        import harness

        async def recover(sim):
            sim.notes["recovered"] = True

        @pytest.mark.harness(faults=harness.Faults(busy=1), recover=recover, schedules=100)
        async def test_unhandled_busy(sim):
            db = await sim.connect("f.db", isolation_level=None)
            await db.execute("CREATE TABLE t(x)")
            await db.execute("INSERT INTO t VALUES (1)")
            await db.close()
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["OperationalError: database is locked", "*<-- deviation"])
    token = next(iter(replay_lines(result.stdout.str()).values()))
    assert decode_token(token).faults.busy == 1


def test_misuse_fails_the_test_with_a_clear_message(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_bad="""
        import pytest

        @pytest.mark.harness(schedules=3, bogus=1)
        async def test_unknown(sim):
            pass

        @pytest.mark.harness(mode="pooled")
        async def test_mode(sim):
            pass

        @pytest.mark.harness(strategy="dfs")
        async def test_strategy(sim):
            pass

        def test_sync(sim):
            pass
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=4)
    result.stdout.fnmatch_lines_random(
        [
            "@pytest.mark.harness on test_unknown: unknown argument(s) bogus (use schedules, *",
            "@pytest.mark.harness on test_mode: mode= must be 'fifo' or 'parallel', not 'pooled'",
            "@pytest.mark.harness on test_strategy: unknown strategy 'dfs' *",
            "harness test test_sync: a harness test must be an `async def` function",
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_replay_selects_one_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_lww=LWW)
    token = replay_lines(pytester.runpytest().stdout.str())["test_lww.py::test_parallel_lww"]
    result = pytester.runpytest(f"--harness-replay={token}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--harness-replay replays one test, but 2 harness tests are selected" in (
        result.stderr.str()
    )
    # a token names statements, not a test: the other test runs the same body, and
    # the schedule replays there too
    same = pytester.runpytest("test_lww.py::test_fifo_lww", f"--harness-replay={token}")
    same.assert_outcomes(failed=1)
    same.stdout.fnmatch_lines(
        ["harness: the replayed schedule failed (mode parallel, 1 deviation(s))"]
    )
    # on a test whose body differs the token names no schedule: a clear NondeterminismError
    pytester.makepyfile(
        test_other="""
        import pytest

        @pytest.mark.harness(mode="parallel")
        async def test_other(sim):
            db = await sim.connect("other.db")
            await db.execute("SELECT 1")
            await db.close()
        """
    )
    other = pytester.runpytest("test_other.py", f"--harness-replay={token}")
    other.assert_outcomes(failed=1)
    other.stdout.fnmatch_lines(
        [
            "harness: NondeterminismError while replaying test_other: *",
            "*run the test without --harness-replay to explore again*",
        ]
    )


def test_nondeterminism_and_escapes_are_clear_errors(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_leaks="""
        import asyncio
        import itertools
        import time
        import pytest

        CALLS = itertools.count()

        @pytest.mark.harness(schedules=10, strategy="random")
        async def test_leaky(sim):
            n = next(CALLS)
            db = await sim.connect("d.db")
            for _ in range(n % 3):
                await db.execute("SELECT 1")
            await asyncio.gather(db.execute("SELECT 2"), db.execute("SELECT 3"))
            await db.close()
            assert n < 3

        @pytest.mark.harness(schedules=3)
        async def test_sleeps(sim):
            time.sleep(0.5)
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines_random(
        [
            "harness: NondeterminismError while exploring test_leaky: *likely leak*",
            "harness: EscapeError while exploring test_sleeps: *time.sleep(0.5)*",
        ]
    )


def test_verbose_shows_the_whole_timeline(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_long="""
        import pytest

        @pytest.mark.harness(schedules=1)
        async def test_long(sim):
            db = await sim.connect("l.db", isolation_level=None)
            for i in range(30):
                await db.execute("SELECT ?", (i,))
            raise RuntimeError("late failure")
        """
    )
    short = pytester.runpytest().stdout.str()
    assert "timeline (the steps that matter; -v shows all " in short
    assert "   ..." in short and "SELECT ? (0,)" not in short and "SELECT ? (29,)" in short
    full = pytester.runpytest("-v").stdout.str()
    assert re.search(r"timeline \(\d+ steps\):", full)
    assert "SELECT ? (0,)" in full and "   ..." not in full
