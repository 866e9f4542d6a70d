"""``pytest --harness-stress=N``: flake rates of a project's own tests, every run accounted for.

The inner projects count their runs in a locked file, so what each run does
(fail, crash, hang) is fixed by its position, whatever the workers do. Runs
that crash or hang are real: ``os._exit``, a busy loop, a runaway recursive
SQLite query. Subprocess timeouts are hang guards only.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

COUNTER = """
import fcntl
import os

COUNTER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "counter.txt")


def next_run():
    with open(COUNTER, "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        f.seek(0)
        n = int(f.read() or 0) + 1
        f.seek(0)
        f.truncate()
        f.write(str(n))
        return n
"""

PROJECT = (
    COUNTER
    + """
import asyncio

import pytest


def test_flaky():
    assert next_run() % 4 != 0, "every 4th run fails"


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
)

CRASHING = (
    COUNTER
    + """
import sqlite3
import os


def test_unlucky():
    n = next_run()
    if n == 2:
        os._exit(3)  # the process dies
    if n == 4:
        while True:  # a hang in Python
            pass
    if n == 6:  # a hang in C: SQLite never returns to Python
        sqlite3.connect(":memory:").execute(
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"
        ).fetchone()
    assert n != 7, "the 7th run fails"
"""
)


def _report(path: Path) -> dict[str, dict[str, Any]]:
    report = json.loads((path / "report.json").read_text())
    assert report["schema"] == "harness.flake-report/2"
    return {c["name"].split("::")[-1]: c for c in report["cells"]}


def _stress(
    pytester: pytest.Pytester, runs: int, *args: str
) -> tuple[pytest.RunResult, dict[str, Any]]:
    counter = pytester.path / "counter.txt"
    if counter.exists():
        counter.unlink()
    result = pytester.runpytest_subprocess(
        f"--harness-stress={runs}", "-p", "no:cacheprovider", *args, timeout=600
    )
    out = Path(pytester.path, "out" if "--harness-report=out" in args else "reports")
    return result, _report(out)


def _accounted(cell: dict[str, Any]) -> None:
    assert cell["planned"] == cell["runs"] + cell["never_ran"]
    assert cell["runs"] == cell["passed"] + cell["failures"] + cell["crashed"] + cell["timed_out"]


def test_stress_measures_plain_and_harness_tests_under_xdist(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_app=PROJECT)
    result, found = _stress(pytester, 20, "-n", "2", "--harness-report=out")
    assert result.ret == 0  # measured failures are data: the gate decides
    result.stdout.fnmatch_lines(
        [
            "*harness stress*",
            "*2 of 3 cells failed at least once*",
            "test_app.py::test_flaky [[]real[]]*20*5*25.0 %*",
            "60/60 runs: *",
            "*harness gate *out/report.json --max-rate R*",
        ]
    )
    assert list(found) == ["test_flaky", "test_correct", "test_last_click_wins"]
    flaky, correct, harness_test = found.values()
    for cell in found.values():
        _accounted(cell)
    assert (flaky["store"], flaky["mode"], flaky["kind"]) == ("-", "real", "real")
    assert (flaky["planned"], flaky["runs"], flaky["failures"]) == (20, 20, 5)
    assert flaky["errors"] == {"AssertionError": 5} and flaky["tokens"] == []
    assert len(flaky["examples"]) == 5
    first = flaky["examples"][0]
    assert first["error"] == "AssertionError"
    assert first["message"].startswith("every 4th run fails")
    assert any(
        'test_app.py", line' in frame and "in test_flaky" in frame for frame in first["traceback"]
    )
    assert first["command"] == "pytest 'test_app.py::test_flaky'" and first["seed"] is None
    assert (correct["mode"], correct["runs"], correct["failures"]) == ("real", 20, 0)
    assert (harness_test["mode"], harness_test["kind"], harness_test["runs"]) == (
        "sim",
        "simulated",
        20,
    )
    assert 0 < harness_test["failures"] < 20
    assert harness_test["coverage"]["schedules"] == 20
    (example,) = harness_test["examples"]
    assert harness_test["tokens"] == [example["token"]] and example["shrunk"] is True
    command = example["command"]
    assert command.startswith("pytest 'test_app.py::test_last_click_wins' --harness-replay=h2.")

    # the same measurement without xdist (in-process): harness cells are identical (seeds
    # never come from the worker), the plain test fails on the same count
    serial, again = _stress(pytester, 20, "-p", "no:xdist")
    assert serial.ret == 0
    for name in found:
        for key in ("planned", "runs", "failures", "errors", "tokens"):
            assert again[name][key] == found[name][key], (name, key)

    # and the example's command replays the failure
    token = command.split("--harness-replay=")[1]
    replayed = pytester.runpytest_subprocess(
        "test_app.py::test_last_click_wins", f"--harness-replay={token}"
    )
    replayed.assert_outcomes(failed=1)


def test_a_crashing_or_hanging_run_is_recorded_and_the_session_goes_on(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_unlucky=CRASHING)
    result, found = _stress(pytester, 8, "--harness-stress-timeout=3")
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            "*running in one pytest-xdist worker*",
            "8/8 runs: 4 passed, 1 failed, 1 crashed, 2 timed out",
        ]
    )
    (cell,) = found.values()
    _accounted(cell)
    assert (cell["planned"], cell["runs"], cell["passed"]) == (8, 8, 4)
    assert (cell["failures"], cell["crashed"], cell["timed_out"]) == (1, 1, 2)
    examples = sorted(cell["examples"], key=lambda e: e["error"])
    assert len({e["run"] for e in examples}) == 4  # four different runs (the order of
    # repetitions after a worker is replaced is pytest-xdist's business)
    assert [(e["error"], e["crash"]) for e in examples] == [
        ("AssertionError", None),
        ("Crashed", {"exit_code": 3}),
        ("Timeout", {"signal": "SIGKILL"}),  # killed from outside: a hang in Python ...
        ("Timeout", {"signal": "SIGKILL"}),  # ... and one in C
    ]
    assert all(e["command"] == "pytest 'test_unlucky.py::test_unlucky'" for e in examples)


def test_a_harness_test_whose_process_dies_keeps_the_schedules_that_ran(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_dies=COUNTER
        + """
import os

async def test_dies_in_its_fifth_schedule(sim):
    if next_run() == 5:
        os._exit(1)
    db = await sim.connect("app.db")
    await db.close()
"""
    )
    result, found = _stress(pytester, 20)
    assert result.ret == 0, result.stdout.str()
    (cell,) = found.values()
    _accounted(cell)
    assert (cell["mode"], cell["planned"], cell["runs"]) == ("sim", 20, 5)
    assert (cell["passed"], cell["crashed"], cell["never_ran"]) == (4, 1, 15)
    (crash,) = cell["examples"]
    assert crash["run"] == 4 and crash["crash"] == {"exit_code": 1}
    gate = subprocess.run(
        [sys.executable, "-m", "harness", "gate", str(pytester.path / "reports" / "report.json"),
         "--max-rate", "1"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert gate.returncode == 2 and "15 never ran" in gate.stderr  # partial: not judged


def test_sigterm_writes_the_partial_report_and_leaves_no_worker(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_slow="""
import os, time

def test_slow():
    open(os.path.join(os.path.dirname(__file__), "ran-%d" % time.monotonic_ns()), "w").close()
    time.sleep(0.3)
"""
    )
    marker = uuid.uuid4().hex
    env = {**os.environ, "HARNESS_TEST_MARK": marker}
    command = [sys.executable, "-m", "pytest", "--harness-stress=200", "-p", "no:cacheprovider"]
    process = subprocess.Popen(
        [*command, "-n", "2"],
        cwd=pytester.path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        for _ in range(1200):  # a hang guard: wait until some runs have started
            if len(list(pytester.path.glob("ran-*"))) >= 4:
                break
            time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 143, output
    assert "interrupted by SIGTERM: the report is partial" in output
    report = json.loads((pytester.path / "reports" / "report.json").read_text())
    assert report["interrupted"] is True and report["interrupted_by"] == "SIGTERM"
    (cell,) = report["cells"]
    _accounted(cell)
    assert cell["planned"] == 200 and 1 <= cell["runs"] < 200 and cell["never_ran"] > 0
    assert _no_process_with(marker)


def _no_process_with(marker: str) -> bool:
    for _ in range(100):  # a hang guard: processes being killed take a moment
        left = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/environ", "rb") as f:
                    if marker.encode() in f.read():
                        left.append(pid)
            except OSError:
                continue
        if not left:
            return True
        time.sleep(0.1)
    return False


def test_stress_options_are_validated_before_anything_runs(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_app="def test_ok():\n    pass\n")
    pytester.path.joinpath("a-file").write_text("x")
    for args, message in [
        (["--harness-stress=0"], "*--harness-stress*positive*"),
        (["--harness-report=out"], "*--harness-report needs --harness-stress=N*"),
        (["--harness-stress=2", "--harness-replay=h2.x"], "*"),
        (["--harness-stress=2", "--harness-report=a-file"], "*--harness-report:*is a file*"),
        (["--harness-stress=2", "--harness-report=a-file/x"], "*--harness-report:*under the file*"),
        (["--harness-stress=2", "--harness-stress-timeout=0"], "*--harness-stress-timeout*"),
    ]:
        result = pytester.runpytest(*args)
        assert result.ret == pytest.ExitCode.USAGE_ERROR, args
        result.stderr.fnmatch_lines([message])
        assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
