"""``harness stress``, ``harness report merge`` and ``harness gate`` (DESIGN §7, §8 amended).

Every stress run here is a real pytest-xdist session (worker processes),
kept small. Sim counts are deterministic (seeds derive from the plan only);
real-mode assertions are limited to what cannot flake: reference stores do
not fail, and what the test-only hooks force (a crash, a hang in Python or in
C, a signal). Subprocess timeouts are hang guards, never assertions.
"""

from __future__ import annotations

import io
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

from harness import scenarios
from harness.cli import main
from harness.report import Cell, load

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIM_ARGS = ["--scenarios", "metadata-lww", "flush-cursor", "--mode", "sim", "--runs", "60"]
HOOK = "HARNESS_STRESS_TEST_HOOK"


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(argv), out=out), out.getvalue()


def run_process(*argv: str) -> subprocess.CompletedProcess[str]:
    """``harness ARGV`` in a fresh process (execnet's socket gateways leak sockets in-process)."""
    return subprocess.run(
        [sys.executable, "-m", "harness", *argv],
        capture_output=True, text=True, cwd=ROOT, timeout=600,
    )  # fmt: skip


def cells(report_dir: Path) -> dict[tuple[str, str, str], Cell]:
    return {c.key: c for c in load(report_dir / "report.json").cells}


def assert_accounted(cell: Cell) -> None:
    """Every planned run of ``cell`` ended one way or another, or never ran."""
    assert cell.planned == cell.runs + cell.never_ran
    assert cell.runs == cell.passed + cell.failures + cell.crashed + cell.timed_out


@pytest.fixture(scope="module")
def sim_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two scenarios x three stores in sim mode, 60 schedules each, on 2 workers."""
    out = tmp_path_factory.mktemp("sim")
    status, text = run("stress", *SIM_ARGS, "--workers", "2", "--out", str(out))
    assert status == 0, text
    return out


def test_sim_stress_finds_the_bugs_and_their_shrunk_tokens_replay(sim_run: Path) -> None:
    found = cells(sim_run)
    assert len(found) == 6
    for (name, store, mode), cell in found.items():
        assert mode == "sim" and cell.kind == "simulated"
        assert (cell.planned, cell.runs, cell.crashed, cell.timed_out) == (60, 60, 0, 0)
        assert cell.coverage is not None and cell.coverage["schedules"] == 60
        assert 0 < cell.coverage["distinct"] <= 60 and cell.coverage["strategy"] == "portfolio"
        scenario = scenarios.get(name)
        if store == "reference":
            assert cell.expected == "pass"
            assert cell.failures == 0 and cell.tokens == [] and cell.examples == []
            continue
        assert cell.expected == "fail" and cell.failures > 0, (name, store)
        (example,) = cell.examples
        assert example["shrunk"] is True and example["events"]
        assert cell.tokens == [example["token"]]
        assert example["command"] == f"harness replay {example['token']}"
        assert example["error"] == "Violation" and example["message"]
        assert any(f.startswith('File "scenarios/') for f in example["traceback"])
        assert isinstance(example["run"], int) and 0 <= example["run"] < 60
        replayed = scenario.replay(store, example["token"])
        assert isinstance(replayed.error, AssertionError), (name, store)


def test_the_report_is_schema_2_with_its_plan(sim_run: Path) -> None:
    data = json.loads((sim_run / "report.json").read_text())
    assert data["schema"] == "harness.flake-report/2"
    assert data["interrupted"] is False and data["interrupted_by"] is None
    plan = data["plan"]
    assert plan["runs_per_cell"] == 60 and plan["shard"] is None and len(plan["id"]) == 12
    assert [tuple(c) for c in plan["cells"]] == [
        (c["name"], c["store"], c["mode"]) for c in data["cells"]
    ]
    meta = data["meta"]
    assert meta["seed"] == 0 and meta["runs"] == 60 and meta["workers"] == 2
    assert meta["command"].startswith("harness stress --scenarios metadata-lww flush-cursor")
    assert meta["wall_time_s"] > 0 and meta["warnings"] == []
    for key in ("harness", "python", "sqlite", "strategy", "timeout_s"):
        assert meta[key]
    markdown = (sim_run / "report.md").read_text()
    assert "metadata-lww" in markdown and "harness replay h2." in markdown
    html = (sim_run / "report.html").read_text()
    assert html.startswith("<!DOCTYPE html>")


def test_gate_judges_simulated_cells_as_verdicts(sim_run: Path, tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    path.write_text((sim_run / "report.json").read_text())
    status, text = run("gate", str(path), "--max-rate", "100%")
    assert status == 1  # a confirmed failing schedule fails whatever --max-rate says
    lines = text.strip().splitlines()
    assert lines[-1].startswith("gate FAILED: 4 failed, 0 unproven, 2 passed")
    fail = next(
        i for i, line in enumerate(lines) if line.startswith("FAIL      metadata-lww/original/sim")
    )
    assert "confirmed failing schedule" in lines[fail]
    assert lines[fail + 1].startswith("          replay: harness replay h2.")
    assert any(
        line.startswith("PASS      flush-cursor/reference/sim  no failing schedule in 60 schedules")
        for line in lines
    )
    written = load(path)
    assert written.gate is not None and written.gate["passed"] is False
    assert written.gate["max_rate"] == 1.0 and len(written.gate["cells"]) == 6
    assert (tmp_path / "report.md").exists() and (tmp_path / "report.html").exists()
    status, text = run("gate", str(path), "--max-rate", "0", "--cells", "*/reference/*", "--strict")
    assert status == 0 and "gate PASSED: 0 failed, 0 unproven, 2 passed" in text
    assert load(path).gate["passed"] is True  # type: ignore[index]
    status, _ = run("gate", str(path), "--max-rate", "100%", "--no-write")
    assert status == 1 and load(path).gate["passed"] is True  # type: ignore[index]


def test_shards_merge_to_exactly_the_unsharded_run_and_nothing_merges_twice(
    sim_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def shard(which: str, name: str) -> Path:
        status, text = run(
            "stress", *SIM_ARGS, "--workers", "1", "--shard", which, "--out", str(tmp_path / name)
        )
        assert status == 0, text
        capsys.readouterr()  # its progress lines
        return tmp_path / name / "report.json"

    s1, s2 = shard("1/2", "s1"), shard("2/2", "s2")
    one = load(s1)
    assert one.plan is not None and one.plan.shard == {"index": 1, "count": 2, "indices": [1]}
    assert one.plan.id == load(sim_run / "report.json").plan.id  # type: ignore[union-attr]
    status, text = run("gate", str(s1), "--max-rate", "1")
    assert status == 2 and "shard 1/2" in capsys.readouterr().err  # one shard is not judged
    status, text = run("report", "merge", str(s1), str(s2), "--out", str(tmp_path / "merged"))
    assert status == 0, text
    merged, whole = cells(tmp_path / "merged"), cells(sim_run)
    assert list(merged) == list(whole)
    for key, cell in whole.items():
        other = merged[key]
        for field in (
            "planned",
            "runs",
            "failures",
            "crashed",
            "timed_out",
            "errors",
            "tokens",
            "coverage",
        ):
            assert getattr(other, field) == getattr(cell, field), (key, field)
        assert [e["token"] for e in other.examples] == [e["token"] for e in cell.examples]
    assert load(tmp_path / "merged" / "report.json").plan.shard is None  # type: ignore[union-attr]

    err = _one_line_exit_2(capsys, "report", "merge", *[str(s1)] * 10, "--out", str(tmp_path / "m"))
    assert "shard 1/2 appears twice" in err
    third = shard("1/3", "t1")
    err = _one_line_exit_2(
        capsys, "report", "merge", str(s1), str(third), "--out", str(tmp_path / "m")
    )
    assert "overlapping shards" in err
    status, text = run("report", "merge", str(s1), str(s1), "--force", "--out", str(tmp_path / "f"))
    assert status == 0 and "warning: forced: shard 1/2 appears twice" in text
    assert cells(tmp_path / "f")[("metadata-lww", "original", "sim")].runs == 2 * one.cells[0].runs


def test_real_mode_reference_stores_do_not_fail(tmp_path: Path) -> None:
    status, text = run(
        "stress", "--scenarios", "metadata-lww", "writer-contention", "--stores", "reference",
        "--mode", "real", "--runs", "10", "--workers", "2", "--out", str(tmp_path),
    )  # fmt: skip
    assert status == 0, text
    found = cells(tmp_path)
    assert sorted(found) == [
        ("metadata-lww", "reference", "real"),
        ("writer-contention", "reference", "real"),
    ]
    for cell in found.values():
        assert cell.kind == "real" and cell.coverage is None
        assert (cell.planned, cell.runs, cell.failing) == (10, 10, 0)


def test_crashes_and_hangs_cost_only_the_run_in_flight(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hooks = {
        "crash:metadata-lww/original/real@2",  # os._exit(1) in a real run
        "segv:metadata-lww/reference/real@7",  # SIGSEGV
        "crash:metadata-lww/original/sim@13",  # a schedule's worker dies
        "hang:metadata-lww/reference/sim@3",  # a busy loop in Python
        "chang:metadata-lww/naive-fix/real@11",  # a runaway recursive query: a hang in C
    }
    monkeypatch.setenv(HOOK, ",".join(sorted(hooks)))
    status, text = run(
        "stress", "--scenarios", "metadata-lww", "--runs", "20", "--workers", "2",
        "--timeout", "3", "--out", str(tmp_path),
    )  # fmt: skip
    assert status == 0, text
    report = load(tmp_path / "report.json")
    assert report.meta["rounds"] >= 2  # the rest of each chunk cut short was resumed
    found = {c.key: c for c in report.cells}
    for cell in found.values():
        assert_accounted(cell)
        assert (cell.planned, cell.runs, cell.never_ran) == (20, 20, 0)

    def lost(name: str, store: str, mode: str) -> dict[str, Any]:
        cell = found[(name, store, mode)]
        (example,) = [e for e in cell.examples if e["error"] in ("Crashed", "Timeout")]
        return example

    crash = lost("metadata-lww", "original", "real")
    assert found[("metadata-lww", "original", "real")].crashed == 1
    assert crash["crash"] == {"exit_code": 1} and crash["run"] == 2
    assert crash["command"].startswith("harness replay real:metadata-lww/original#")
    assert crash["seed"] == int(crash["command"].rpartition("#")[2])
    segv = lost("metadata-lww", "reference", "real")
    assert segv["crash"] == {"signal": "SIGSEGV"} and segv["run"] == 7
    assert found[("metadata-lww", "original", "sim")].crashed == 1
    assert lost("metadata-lww", "original", "sim")["run"] == 13
    for key, run_index in [
        (("metadata-lww", "reference", "sim"), 3),
        (("metadata-lww", "naive-fix", "real"), 11),
    ]:
        cell = found[key]
        assert (cell.timed_out, cell.crashed) == (1, 0), key
        hung = lost(*key)
        assert hung["error"] == "Timeout" and hung["crash"] == {"signal": "SIGKILL"}
        assert hung["run"] == run_index
    assert (
        found[("metadata-lww", "naive-fix", "sim")].failing
        == found[("metadata-lww", "naive-fix", "sim")].failures
    )
    # the gate counts them as failures, unless told not to
    path = str(tmp_path / "report.json")
    status, text = run("gate", path, "--max-rate", "99%", "--cells", "*/reference/*", "--no-write")
    assert status == 1 and "1 timed out" in text and "1 crashed" in text
    status, text = run(
        "gate",
        path,
        "--max-rate",
        "99%",
        "--cells",
        "*/reference/*",
        "--allow-crashes",
        "--no-write",
    )
    assert status == 0, text


def _no_process_with(marker: str) -> bool:
    """Whether no process is left whose environment carries ``marker`` (waits a little)."""
    for _ in range(100):  # a hang guard: workers that are being killed take a moment
        left = []
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
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


@pytest.mark.parametrize("name", ["SIGTERM", "SIGINT", "SIGHUP"])
def test_a_signal_writes_the_partial_report_and_leaves_no_worker(tmp_path: Path, name: str) -> None:
    marker = f"HARNESS_TEST_MARK={uuid.uuid4().hex}"
    env = {
        **os.environ,
        HOOK: f"{name}:metadata-lww/original/real@7",
        marker.split("=")[0]: marker.split("=")[1],
    }
    done = subprocess.run(
        [sys.executable, "-m", "harness", "stress", "--scenarios", "metadata-lww", "--stores",
         "original", "--runs", "40", "--workers", "2", "--out", str(tmp_path)],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=300,
    )  # fmt: skip
    assert done.returncode == 128 + signal.Signals[name], done.stdout + done.stderr
    assert f"interrupted by {name}" in done.stdout
    assert f"{name}: stopping" in done.stderr
    report = load(tmp_path / "report.json")
    assert report.interrupted and report.interrupted_by == name
    assert report.never_ran > 0
    for cell in report.cells:
        assert_accounted(cell)
        assert cell.planned == 40
    real = {c.key: c for c in report.cells}[("metadata-lww", "original", "real")]
    assert 2 <= real.runs < 40  # at least runs 5 and 6 (run 7's worker sent the signal)
    status, _ = run("gate", str(tmp_path / "report.json"), "--max-rate", "1")
    assert status == 2  # refused: interrupted
    assert _no_process_with(marker), "a worker or watchdog outlived the stress run"


def test_a_second_signal_exits_at_once(tmp_path: Path) -> None:
    script = (
        "import io, os, signal, sys, time\n"
        "from harness.stress._signals import Interrupts\n"
        "stops = []\n"
        "with Interrupts(lambda: stops.append(1), sys.stderr) as interrupts:\n"
        "    try:\n"
        "        os.kill(os.getpid(), signal.SIGTERM)\n"
        "        time.sleep(60)\n"
        "    except KeyboardInterrupt:\n"
        "        print('first', interrupts.signal, interrupts.status, len(stops), flush=True)\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "    time.sleep(60)\n"
        "print('not reached')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert done.returncode == 143, done.stdout + done.stderr
    assert done.stdout.split() == ["first", "SIGTERM", "143", "1"]
    assert "SIGTERM again: exiting now" in done.stderr


def _socket_server(directory: Path) -> tuple[subprocess.Popen[bytes], int]:
    """execnet's own socket server, run by this Python; its port (it binds port 0)."""
    import execnet.script.socketserver as server

    log = directory / "server.log"
    with log.open("wb") as sink:  # a file, not a pipe: the worker's output must never block
        process = subprocess.Popen(
            [sys.executable, server.__file__, "127.0.0.1:0"],
            cwd=directory, stdout=sink, stderr=subprocess.STDOUT,
        )  # fmt: skip
    for _ in range(600):  # a hang guard: the server prints its port when it listens
        text = log.read_text(errors="replace")
        if "Entering Accept loop" in text:
            line = text.split("Entering Accept loop", 1)[1].splitlines()[0]
            return process, int(line.rstrip().rstrip(")").rpartition(",")[2])
        time.sleep(0.1)
    process.kill()
    raise AssertionError(f"the socket server did not start: {log.read_text()}")


def test_two_socket_servers_run_the_plan_sent_as_data(sim_run: Path, tmp_path: Path) -> None:
    servers = []
    for name in ("a", "b"):  # each serves one worker at a time, in its own directory
        (tmp_path / name).mkdir()
        servers.append(_socket_server(tmp_path / name))
    try:
        tx = [a for _, port in servers for a in ("--tx", f"socket=127.0.0.1:{port}")]
        done = run_process(
            "stress", *SIM_ARGS, "--workers", "0", *tx, "--out", str(tmp_path / "out")
        )
    finally:
        for process, _ in servers:
            process.kill()
            process.wait(timeout=30)
    assert done.returncode == 0, done.stdout + done.stderr
    remote, local = cells(tmp_path / "out"), cells(sim_run)
    assert list(remote) == list(local)
    for key, cell in local.items():
        assert_accounted(remote[key])
        assert (remote[key].runs, remote[key].failures, remote[key].tokens) == (
            cell.runs, cell.failures, cell.tokens
        )  # fmt: skip


def test_a_run_where_workers_ran_nothing_fails_loudly(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:  # a port held but never listening: connections are refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        done = run_process(
            "stress", "--scenarios", "metadata-lww", "--mode", "sim", "--runs", "5",
            "--workers", "0", "--tx", f"socket=127.0.0.1:{port}", "--out", str(tmp_path),
        )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert "harness: error: the workers ran nothing" in done.stderr.splitlines()[-1]
    assert "ConnectionRefusedError" in done.stdout
    report = load(tmp_path / "report.json")
    assert report.never_ran == report.planned == 15 and not report.interrupted


def test_until_decided_stops_each_cell_once_its_verdict_is_certain(tmp_path: Path) -> None:
    status, text = run(
        "stress", "--scenarios", "metadata-lww", "--stores", "original", "reference",
        "--mode", "sim", "--until-decided", "--max-rate", "1%", "--runs", "200",
        "--workers", "2", "--out", str(tmp_path / "sim"),
    )  # fmt: skip
    assert status == 0, text
    sim = cells(tmp_path / "sim")
    original, reference = (
        sim[("metadata-lww", "original", "sim")],
        sim[("metadata-lww", "reference", "sim")],
    )
    assert original.stopped == "first-failure" and original.runs == original.planned == 50
    assert reference.stopped is None and reference.runs == reference.planned == 200
    status, text = run(
        "stress", "--scenarios", "metadata-lww", "--stores", "reference", "--mode", "real",
        "--until-decided", "--max-rate", "20%", "--runs", "500", "--workers", "2",
        "--out", str(tmp_path / "real"),
    )  # fmt: skip
    assert status == 0, text
    (real,) = cells(tmp_path / "real").values()
    assert real.stopped == "decided" and real.runs == real.planned < 500
    assert real.failing == 0 and real.ci_high <= 0.20
    status, text = run("gate", str(tmp_path / "real" / "report.json"), "--max-rate", "20%")
    assert status == 0 and "PASS" in text  # decided runs get the same verdict from the gate


def _one_line_exit_2(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    status, _ = run(*argv)
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and err.startswith("harness: error: "), err
    assert "Traceback" not in err
    return err


def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, sim_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = str(sim_run / "report.json")
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps({"schema": "harness.flake-report/2", "cells": []}))
    idle = tmp_path / "idle.json"
    idle.write_text(json.dumps({"schema": "harness.flake-report/2", "cells": [
        {"name": "x", "store": "-", "mode": "sim", "runs": 0, "failures": 0}]}))  # fmt: skip
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"schema": "harness.flake-report/9", "cells": []}))
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    huge = tmp_path / "huge.json"
    huge.write_text('{"schema": "harness.flake-report/2", "cells": [], "n": ' + "9" * 400 + "}")
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    (tmp_path / "taken" / "report.json").mkdir(parents=True)
    assert "no cells" in _one_line_exit_2(capsys, "gate", str(empty), "--max-rate", "0.01")
    assert "no runs" in _one_line_exit_2(capsys, "gate", str(idle), "--max-rate", "0.01")
    assert "cannot read" in _one_line_exit_2(
        capsys, "gate", str(tmp_path / "no.json"), "--max-rate", "0.1"
    )
    assert "cannot read" in _one_line_exit_2(capsys, "gate", str(tmp_path), "--max-rate", "0.1")
    assert "not valid JSON" in _one_line_exit_2(capsys, "gate", str(garbage), "--max-rate", "0.1")
    assert "digits" in _one_line_exit_2(capsys, "gate", str(huge), "--max-rate", "0.1")
    assert "too deeply" in _one_line_exit_2(capsys, "gate", str(deep), "--max-rate", "0.1")
    _one_line_exit_2(capsys, "gate", good, "--max-rate", "1.5")
    _one_line_exit_2(capsys, "gate", good)
    merge_out = ["--out", str(tmp_path / "m")]
    assert "schema" in _one_line_exit_2(capsys, "report", "merge", good, str(other), *merge_out)
    _one_line_exit_2(capsys, "report", "merge", good, str(garbage), *merge_out)
    _one_line_exit_2(capsys, "report", "merge", good, str(huge), *merge_out)
    _one_line_exit_2(capsys, "report", "merge", good, str(deep), *merge_out)
    assert "is a file" in _one_line_exit_2(capsys, "report", "merge", good, "--out", str(a_file))
    _one_line_exit_2(capsys, "report")
    assert "unknown scenario" in _one_line_exit_2(capsys, "stress", "--scenarios", "nope")
    _one_line_exit_2(capsys, "stress", "--stores", "nope")
    _one_line_exit_2(capsys, "stress", "--shard", "3/2")
    _one_line_exit_2(capsys, "stress", "--runs", "0")
    _one_line_exit_2(capsys, "stress", "--workers", "0")
    assert "too many" in _one_line_exit_2(capsys, "stress", "--workers", "100000")
    _one_line_exit_2(capsys, "stress", "--timeout", "-1")
    _one_line_exit_2(capsys, "stress", "--tx", "nonsense")
    _one_line_exit_2(capsys, "stress", "--tx", "socket=host-without-port")
    assert "--max-rate" in _one_line_exit_2(capsys, "stress", "--until-decided")
    _one_line_exit_2(capsys, "stress", "--max-rate", "1%")
    _one_line_exit_2(capsys, "stress", "--until-decided", "--max-rate", "1%", "--shard", "1/2")
    for out, why in [
        (a_file, "is a file"),
        (a_file / "under", "under the file"),
        (Path("/proc/harness-out"), "cannot write"),
        (tmp_path / "taken", "is a directory"),
    ]:
        err = _one_line_exit_2(capsys, "stress", "--scenarios", "metadata-lww", "--out", str(out))
        assert why in err
    assert not (tmp_path / "m").exists()
