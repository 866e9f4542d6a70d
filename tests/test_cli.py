"""The harness command line: list, explore, replay; bad input is one line and exit 2."""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
from typing import Any

import pytest

from harness import checks
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
    assert lines[-1].startswith("harness replay h2.")
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
    assert "proved: every schedule with at most 1 deviation from the default order passes" in out


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


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    from harness.cli import build_parser

    def children(parser: argparse.ArgumentParser, prefix: str) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    found[f"{prefix}{name}"] = child
                    found.update(children(child, f"{prefix}{name} "))
        return found

    return children(build_parser(), "")


def test_every_option_shows_its_default_and_every_command_its_exit_codes() -> None:
    commands = _subcommands()
    assert {"list", "explore", "replay", "stress", "report merge", "gate"} <= set(commands)
    for name, parser in commands.items():
        if name == "report":
            continue  # only dispatches to its actions
        assert "exit status:" in (parser.epilog or ""), name
        for action in parser._actions:
            if not action.option_strings or action.help == argparse.SUPPRESS:
                continue
            if action.option_strings == ["-h", "--help"] or action.required:
                continue
            text = action.help or ""
            assert "default" in text, (name, action.option_strings, text)
    gate = commands["gate"].epilog or ""
    assert "  0 " in gate and "  1 " in gate and "  2 " in gate  # not only 0 and 1
    help_text = subprocess.run(
        [sys.executable, "-m", "harness", "stress", "--help"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    ).stdout  # fmt: skip
    flat = " ".join(help_text.split())  # argparse wraps lines
    for shown in ("default: both", "default: portfolio", "default: 0.95", "default: 60", "143"):
        assert shown in flat, shown


@pytest.mark.parametrize(
    "argv",
    [["list"], ["explore", "metadata-lww", "-v"], ["replay", TOKENS[("hook-batch", "naive-fix")]]],
    ids=["list", "explore", "replay"],
)
def test_a_reader_that_goes_away_is_not_an_error(argv: list[str]) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "harness", *argv],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # like `| head -0`: every write now fails with EPIPE
    err = process.stderr.read().decode()
    process.stderr.close()
    assert process.wait(timeout=120) == 141
    assert err == "", err


def test_replay_of_a_real_run_id_reruns_that_case_with_its_seed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from harness.scenarios import Scenario

    calls: list[tuple[str, int]] = []

    def failing(
        self: Scenario, variant: str, *, seed: int = 0, directory: str | None = None
    ) -> None:
        calls.append((variant, seed))
        if variant == "original" and len(calls) == 2:
            raise checks.Violation("lost on the second run")

    monkeypatch.setattr(Scenario, "run_real", failing)
    status, out = run("replay", "real:writer-contention/original#1145002104", "--runs", "5")
    assert status == 1 and calls == [("original", 1145002104)] * 2
    assert "FAILED (run 2): Violation: lost on the second run" in out
    assert 'File "' in out and "tests/test_cli.py" in out  # the frame where it failed
    calls.clear()
    status, out = run("replay", "real:metadata-lww/reference#7", "--runs", "3")
    assert status == 0 and calls == [("reference", 7)] * 3 and "PASSED 3 time(s)" in out


@pytest.mark.parametrize(
    "token", ["real:nope/original#1", "real:metadata-lww/fixed#1", "real:metadata-lww/reference#x"]
)
def test_a_malformed_real_run_id_is_one_line_and_exit_2(
    token: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _ = run("replay", token)
    err = capsys.readouterr().err
    assert status == 2 and err.startswith("harness: error: ") and err.count("\n") == 1


def test_explore_complete_search_with_bound_none_and_a_bad_bound() -> None:
    status, out = run(
        "explore", "metadata-lww", "--store", "reference", "--strategy", "exhaustive",
        "--bound", "none", "--schedules", "3",
    )  # fmt: skip
    assert status == 0 and "no failure in 3 schedules" in out
    status, out = run("explore", "writer-contention", "--strategy", "exhaustive", "--bound", "x")
    assert status == 2
