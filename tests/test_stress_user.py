"""``pytest --harness-stress=N``: flake rates of a project's own tests, under xdist.

The inner project has one flaky plain test (every 4th run of it fails, counted
in a locked file, so exactly 5 of 20 fail whatever the workers do), one harness
test with a reorder bug and one correct test.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

PROJECT = """
import asyncio
import fcntl
import os

import pytest

COUNTER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "counter.txt")


def _next():
    with open(COUNTER, "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        f.seek(0)
        n = int(f.read() or 0) + 1
        f.seek(0)
        f.truncate()
        f.write(str(n))
        return n


def test_flaky():
    assert _next() % 4 != 0, "every 4th run fails"


def test_correct(tmp_path):
    assert not list(tmp_path.iterdir())  # a fresh function-scoped fixture per repetition
    (tmp_path / "used").write_text("x")


@pytest.mark.harness(mode="parallel")
async def test_last_click_wins(sim):
    db = await sim.connect("app.db", isolation_level=None)
    await db.execute("CREATE TABLE t(k TEXT PRIMARY KEY, v TEXT)")

    async def save(v):
        await db.execute("INSERT OR REPLACE INTO t VALUES ('theme', ?)", (v,))

    await asyncio.gather(save("light"), save("dark"))
    async with db.execute("SELECT v FROM t") as cursor:
        assert (await cursor.fetchone())[0] == "dark"
    await db.close()
"""


def _stress(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict[str, Any]]:
    counter = pytester.path / "counter.txt"
    if counter.exists():
        counter.unlink()
    result = pytester.runpytest_subprocess("--harness-stress=20", "-p", "no:cacheprovider", *args)
    out = Path(pytester.path, "out" if "--harness-report=out" in args else "reports")
    report = json.loads((out / "report.json").read_text())
    return result, {c["name"].split("::")[-1]: c for c in report["cells"]}


def test_stress_measures_plain_and_harness_tests_under_xdist(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_app=PROJECT)
    result, found = _stress(pytester, "-n", "2", "--harness-report=out")
    assert result.ret == 0  # measured failures are data: the gate decides
    result.stdout.fnmatch_lines(
        [
            "*harness stress*",
            "*2 of 3 cells failed at least once*",
            "test_app.py::test_flaky [[]real[]]*20*5*25.0 %*",
            "*harness gate *out/report.json --max-rate R*",
        ]
    )
    assert list(found) == ["test_flaky", "test_correct", "test_last_click_wins"]
    flaky, correct, harness_test = found.values()
    assert (flaky["store"], flaky["mode"], flaky["runs"], flaky["failures"]) == ("-", "real", 20, 5)
    assert flaky["errors"] == {"AssertionError": 5} and len(flaky["tokens"]) == 5
    assert flaky["example"]["error"].startswith("AssertionError: every 4th run fails")
    assert (correct["mode"], correct["runs"], correct["failures"]) == ("real", 20, 0)
    assert (harness_test["mode"], harness_test["runs"]) == ("sim", 20)
    assert 0 < harness_test["failures"] < 20
    assert all(t.startswith("h1.") for t in harness_test["tokens"])
    command = harness_test["example"]["command"]
    assert command.startswith("pytest 'test_app.py::test_last_click_wins' --harness-replay=h1.")

    # the same measurement without xdist: harness cells are identical (seeds never come
    # from the worker), the plain test fails on the same count
    serial, again = _stress(pytester, "-p", "no:xdist")
    assert serial.ret == 0
    for name in found:
        for key in ("runs", "failures", "errors"):
            assert again[name][key] == found[name][key], (name, key)
    assert again["test_last_click_wins"]["tokens"] == harness_test["tokens"]

    # and the example's command replays the failure
    token = command.split("--harness-replay=")[1]
    replayed = pytester.runpytest_subprocess(
        "test_app.py::test_last_click_wins", f"--harness-replay={token}"
    )
    replayed.assert_outcomes(failed=1)


def test_stress_options_are_validated(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_app="def test_ok():\n    pass\n")
    for args, message in [
        (["--harness-stress=0"], "*--harness-stress*positive*"),
        (["--harness-report=out"], "*--harness-report needs --harness-stress=N*"),
        (["--harness-stress=2", "--harness-replay=h1.x"], "*"),
    ]:
        result = pytester.runpytest(*args)
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        result.stderr.fnmatch_lines([message])
