"""``harness stress``, ``harness report merge`` and ``harness gate`` (DESIGN §7, §8).

Every stress run here is a real pytest-xdist session (worker processes),
kept small. Sim counts are deterministic (seeds derive from the plan only);
real-mode assertions are limited to what cannot flake: reference stores do
not fail, and what the test-only hooks force (a crash, a hang, a Ctrl-C).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness import scenarios
from harness.cli import main
from harness.report import load

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIM_ARGS = ["--scenarios", "metadata-lww", "flush-cursor", "--mode", "sim", "--runs", "60"]


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(argv), out=out), out.getvalue()


def cells(report_dir: Path) -> dict[tuple[str, str, str], Any]:
    return {c.key: c for c in load(report_dir / "report.json").cells}


@pytest.fixture(scope="module")
def sim_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two scenarios x three stores in sim mode, 60 schedules each, on 2 workers."""
    out = tmp_path_factory.mktemp("sim")
    status, text = run("stress", *SIM_ARGS, "--workers", "2", "--out", str(out))
    assert status == 0, text
    return out


def test_sim_stress_finds_the_bugs_and_their_tokens_replay(sim_run: Path) -> None:
    found = cells(sim_run)
    assert len(found) == 6
    for (name, store, mode), cell in found.items():
        assert mode == "sim" and cell.runs == 60 and cell.crashed == cell.timed_out == 0
        scenario = scenarios.get(name)
        if store == "reference":
            assert cell.failures == 0 and cell.tokens == [] and cell.example is None
            continue
        assert cell.failures > 0, (name, store)
        assert 0 < len(cell.tokens) <= min(10, cell.failures)
        for token in cell.tokens[:3]:
            replayed = scenario.replay(store, token)
            assert isinstance(replayed.error, AssertionError), (name, store, token)
        example = cell.example
        assert example is not None and example["command"].startswith("harness replay h1.")
        assert example["shrunk"] is True and example["events"]
        shrunk = example["command"].split()[-1]
        assert isinstance(scenario.replay(store, shrunk).error, AssertionError)


def test_the_report_is_written_in_three_formats(sim_run: Path) -> None:
    data = json.loads((sim_run / "report.json").read_text())
    assert data["schema"] == "harness.flake-report/1"
    meta = data["meta"]
    assert meta["seed"] == 0 and meta["runs"] == 60 and meta["workers"] == 2
    assert meta["interrupted"] is False and meta["shard"] == "1/1"
    assert meta["command"].startswith("harness stress --scenarios metadata-lww flush-cursor")
    for key in ("harness", "python", "sqlite", "strategy"):
        assert meta[key]
    for cell in data["cells"]:
        for key in ("rate", "ci_low", "ci_high", "tokens", "wall_time", "errors", "example"):
            assert key in cell
    markdown = (sim_run / "report.md").read_text()
    assert "| metadata-lww | original | sim | 60 |" in markdown
    assert "harness replay h1." in markdown
    html = (sim_run / "report.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and "<svg" in html


def test_shards_merge_to_exactly_the_unsharded_run(sim_run: Path, tmp_path: Path) -> None:
    for i in (1, 2):
        status, text = run(
            "stress",
            *SIM_ARGS,
            "--workers",
            "1",
            "--shard",
            f"{i}/2",
            "--out",
            str(tmp_path / f"s{i}"),
        )
        assert status == 0, text
        assert load(tmp_path / f"s{i}" / "report.json").meta["shard"] == f"{i}/2"
    status, text = run(
        "report", "merge", str(tmp_path / "s1/report.json"), str(tmp_path / "s2/report.json"),
        "--out", str(tmp_path / "merged"),
    )  # fmt: skip
    assert status == 0, text
    merged, whole = cells(tmp_path / "merged"), cells(sim_run)
    assert list(merged) == list(whole)
    for key, cell in whole.items():
        other = merged[key]
        assert (other.runs, other.failures, other.errors) == (cell.runs, cell.failures, cell.errors)
        assert set(other.tokens) <= set(other.tokens) | set(cell.tokens)


def test_real_mode_reference_stores_do_not_fail(tmp_path: Path) -> None:
    status, text = run(
        "stress", "--scenarios", "metadata-lww", "flush-cursor", "--stores", "reference",
        "--mode", "real", "--runs", "10", "--workers", "2", "--out", str(tmp_path),
    )  # fmt: skip
    assert status == 0, text
    found = cells(tmp_path)
    assert sorted(found) == [
        ("flush-cursor", "reference", "real"),
        ("metadata-lww", "reference", "real"),
    ]
    for cell in found.values():
        assert (cell.runs, cell.failures, cell.crashed, cell.timed_out) == (10, 0, 0, 0)


def test_a_crashed_worker_loses_only_its_chunk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HARNESS_STRESS_TEST_HOOK", "crash:metadata-lww/original/sim#0")
    status, text = run(
        "stress", "--scenarios", "metadata-lww", "--mode", "sim", "--runs", "60",
        "--workers", "2", "--out", str(tmp_path),
    )  # fmt: skip
    assert status == 0, text
    assert "chunk metadata-lww/original/sim#0 lost: worker" in text
    found = cells(tmp_path)
    crashed = found[("metadata-lww", "original", "sim")]
    assert (crashed.runs, crashed.crashed) == (10, 50)  # chunk #1 (10 schedules) still ran
    for store in ("naive-fix", "reference"):
        cell = found[("metadata-lww", store, "sim")]
        assert (cell.runs, cell.crashed) == (60, 0)


def test_a_hanging_run_times_out_and_the_chunk_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hooks = "hang:metadata-lww/reference/real#0,hang:metadata-lww/reference/sim#0"
    monkeypatch.setenv("HARNESS_STRESS_TEST_HOOK", hooks)
    status, text = run(
        "stress", "--scenarios", "metadata-lww", "--stores", "reference", "--mode", "both",
        "--runs", "5", "--workers", "2", "--timeout", "2", "--out", str(tmp_path),
    )  # fmt: skip
    assert status == 0, text
    found = cells(tmp_path)
    real = found[("metadata-lww", "reference", "real")]
    assert (real.runs, real.failures, real.timed_out) == (5, 1, 1)
    assert real.errors == {"Timeout": 1}
    assert real.tokens[0].startswith("real:metadata-lww/reference#")
    sim = found[("metadata-lww", "reference", "sim")]  # the 2nd schedule hung; 3 more ran
    assert (sim.runs, sim.failures, sim.timed_out, sim.errors) == (5, 1, 1, {"Timeout": 1})


def test_ctrl_c_writes_what_was_measured(tmp_path: Path) -> None:
    env = {**os.environ, "HARNESS_STRESS_TEST_HOOK": "interrupt:metadata-lww/original/real#2"}
    done = subprocess.run(
        [sys.executable, "-m", "harness", "stress", "--scenarios", "metadata-lww",
         "--stores", "original", "--runs", "20", "--workers", "1", "--out", str(tmp_path)],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=300,
    )  # fmt: skip
    assert done.returncode == 130, done.stdout + done.stderr
    assert "interrupted" in done.stdout
    report = load(tmp_path / "report.json")
    assert report.meta["interrupted"] is True
    real = {c.key: c for c in report.cells}[("metadata-lww", "original", "real")]
    assert 10 <= real.runs < 20  # chunks #0 and #1 were complete before the Ctrl-C


def test_gate_verdicts_and_exit_codes(sim_run: Path) -> None:
    path = str(sim_run / "report.json")
    status, text = run("gate", path, "--max-rate", "0.01")
    assert status == 1
    lines = text.strip().splitlines()
    assert lines[-1].startswith("gate FAILED: 4 failed, 2 unproven, 0 passed")
    assert any(line.startswith("FAIL      metadata-lww/original/sim") for line in lines)
    assert any(line.startswith("UNPROVEN  flush-cursor/reference/sim") for line in lines)
    status, text = run("gate", path, "--max-rate", "100%")
    assert status == 0 and "gate PASSED" in text
    status, text = run("gate", path, "--max-rate", "0.9", "--strict", "--confidence", "0.99")
    assert status == 0, text


def _one_line_exit_2(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    status, _ = run(*argv)
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and err.startswith("harness: error: "), err
    return err


def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, sim_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = str(sim_run / "report.json")
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps({"schema": "harness.flake-report/1", "cells": []}))
    idle = tmp_path / "idle.json"
    idle.write_text(
        json.dumps(
            {
                "schema": "harness.flake-report/1",
                "cells": [{"name": "x", "store": "-", "mode": "sim", "runs": 0, "failures": 0}],
            }
        )
    )
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"schema": "harness.flake-report/2", "cells": []}))
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    assert "no cells" in _one_line_exit_2(capsys, "gate", str(empty), "--max-rate", "0.01")
    assert "no runs" in _one_line_exit_2(capsys, "gate", str(idle), "--max-rate", "0.01")
    assert "cannot read" in _one_line_exit_2(
        capsys, "gate", str(tmp_path / "no.json"), "--max-rate", "0.1"
    )
    assert "not valid JSON" in _one_line_exit_2(capsys, "gate", str(garbage), "--max-rate", "0.1")
    _one_line_exit_2(capsys, "gate", good, "--max-rate", "1.5")
    _one_line_exit_2(capsys, "gate", good)
    assert "schema" in _one_line_exit_2(
        capsys, "report", "merge", good, str(other), "--out", str(tmp_path / "m")
    )
    _one_line_exit_2(capsys, "report", "merge", good, str(garbage), "--out", str(tmp_path / "m"))
    _one_line_exit_2(capsys, "report")
    assert "unknown scenario" in _one_line_exit_2(capsys, "stress", "--scenarios", "nope")
    _one_line_exit_2(capsys, "stress", "--stores", "nope")
    _one_line_exit_2(capsys, "stress", "--shard", "3/2")
    _one_line_exit_2(capsys, "stress", "--runs", "0")
    _one_line_exit_2(capsys, "stress", "--workers", "0")
    _one_line_exit_2(capsys, "stress", "--timeout", "-1")
    assert not (tmp_path / "m").exists()
