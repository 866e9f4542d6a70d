"""The harness command line: list, explore, replay; bad input is one line and exit 2."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest

from harness.cli import main
from tests.scenario_tokens import TOKENS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(argv), out=out), out.getvalue()


def test_list_names_every_scenario_with_its_source_and_stores() -> None:
    status, out = run("list")
    assert status == 0
    for name, source in [
        ("metadata-lww", "vscode #311989"),
        ("hook-batch", "ClosedLoop PR #234"),
        ("flush-cursor", "hermes-agent #19407"),
    ]:
        assert name in out and source in out
    assert out.count("stores: original, naive-fix, reference") == 5


def test_explore_prints_the_timeline_and_ends_with_the_replay_command() -> None:
    status, out = run("explore", "metadata-lww", "--seed", "1")
    assert status == 1
    lines = out.strip().splitlines()
    assert lines[-1].startswith("harness replay h1.")
    assert "deviation" in out and "INSERT OR REPLACE INTO metadata" in out
    token = lines[-1].split()[-1]
    status, replayed = run("replay", token)
    assert status == 1 and "last writer lost" in replayed


def test_explore_the_reference_finds_nothing() -> None:
    status, out = run(
        "explore",
        "metadata-lww",
        "--store",
        "reference",
        "--schedules",
        "50",
        "--strategy",
        "random",
    )
    assert status == 0 and "no failure in 50 schedules" in out


def test_explore_exhaustive_reports_coverage() -> None:
    status, out = run(
        "explore",
        "writer-contention",
        "--store",
        "reference",
        "--strategy",
        "exhaustive",
        "--bound",
        "1",
    )
    assert status == 0 and "covered the strategy's whole bounded schedule space" in out


def test_replay_of_a_pinned_token_fails_and_quiet_prints_only_the_verdict() -> None:
    status, out = run("replay", "-q", TOKENS[("hook-batch", "naive-fix")])
    assert status == 1
    assert out.strip().startswith("FAILED:") and len(out.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "argv",
    [
        ["explore", "no-such-scenario"],
        ["explore", "metadata-lww", "--schedules", "0"],
        ["explore", "metadata-lww", "--store", "fixed"],
        ["explore", "metadata-lww", "--strategy", "dfs"],
        ["explore", "metadata-lww", "--seed", "-1"],
        ["replay", "not-a-token"],
        ["replay", "h1.AAAA"],
        ["replay", "h9.AAAA"],
        ["frobnicate"],
        [],
    ],
)
def test_bad_input_is_one_line_on_stderr_and_exit_2(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    status, out = run(*argv)
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("harness: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err and out == ""


def test_a_body_token_is_refused_by_the_scenario_replay(capsys: pytest.CaptureFixture[str]) -> None:
    import harness
    from tests.bodies import lww_two_tasks

    token = harness.explore(lww_two_tasks, mode="parallel", strategy="random").failures[0].token
    status, _ = run("replay", token)
    assert status == 2 and "harness.replay(body, token)" in capsys.readouterr().err


def test_python_dash_m_and_the_console_script_work() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "harness", "list"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0 and "subscribe-gap" in done.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "harness", "explore", "nope"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    help_text = subprocess.run(
        [sys.executable, "-m", "harness", "explore", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout
    assert "--strategy" in help_text and "replays it" in help_text


def test_gate_can_judge_a_subset_of_cells(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    from harness.report import Cell, Report, save_json

    report = Report(
        cells=[
            Cell("lww", "original", "sim", runs=100, failures=30),
            Cell("lww", "reference", "sim", runs=5000, failures=0),
        ],
        meta={},
    )
    path = tmp_path / "report.json"
    save_json(report, path)
    status, out = run("gate", str(path), "--max-rate", "0.1%")
    assert status == 1 and "FAIL      lww/original/sim" in out
    status, out = run("gate", str(path), "--max-rate", "0.1%", "--cells", "*/reference/*")
    assert status == 0 and "original" not in out and "PASS      lww/reference/sim" in out
    status, _ = run("gate", str(path), "--max-rate", "0.1%", "--cells", "nothing*")
    assert status == 2 and capsys.readouterr().err.count("\n") == 1
