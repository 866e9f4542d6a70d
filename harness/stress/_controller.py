"""The controller of a stress run: plan, run a pytest-xdist session, aggregate, report.

:func:`run_stress` writes the plan (:mod:`._spec`) into ``OUT/.harness-stress/``
and starts ``pytest.main`` on it with ``-p harness.stress._session`` (so every
worker turns the spec into chunk items), ``-n WORKERS`` and any ``--tx``
specs; pytest's own output goes to ``session.log`` beside the spec. The
:class:`Collector` plugin, registered in the controller only, receives every
report in ``pytest_runtest_logreport``, records each chunk's measurement and
draws the progress line. Afterwards the first failing sim token of each cell
becomes its swimlane example (:mod:`._examples`) and the report is written.

Invariants:

* a cell's counts are the sums over its chunks, taken in chunk order, so
  the report does not depend on which worker ran what or in which order
  results arrived (tokens included);
* each chunk is counted at most once: as measured (its call report carries
  a result), or as ``crashed`` (its worker died: pytest-xdist reports the
  item failed with ``when == "???"``); a chunk never started is neither;
* whatever was measured is written, also after Ctrl-C (``meta.interrupted``)
  or when pytest-xdist gives up on crashing workers.
"""

from __future__ import annotations

import contextlib
import platform
import signal
import sqlite3
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

import pytest

from ..report import Cell, Report, write_reports
from ._progress import Progress
from ._session import RESULT_KEY, item_name
from ._spec import Chunk, Spec, cells_of, plan, run_order, save_spec, shard

WORK_DIR = ".harness-stress"
"""Where the spec, the session's ini file and its log go, inside the output directory."""


@dataclass
class StressOptions:
    """One stress run. ``workers=None`` means only the ``tx`` gateways (no ``-n``)."""

    scenarios: list[str]
    stores: list[str]
    modes: list[str]
    runs: int
    workers: int | None = 1
    out: Path = Path("reports")
    seed: int = 0
    strategy: str = "pct"
    timeout: float = 60.0
    shard: tuple[int, int] | None = None
    tx: list[str] = field(default_factory=list)
    command: str = ""
    examples: bool = True
    max_worker_restart: int | None = None


@dataclass
class StressOutcome:
    """What :func:`run_stress` produced."""

    report: Report
    paths: dict[str, Path]
    interrupted: bool
    completed: bool
    """False when the pytest session failed as a whole (internal or usage error)."""
    warnings: list[str]
    wall_time: float
    log: Path


class Collector:
    """Controller-side plugin: chunk results in, progress out (see the module docstring)."""

    def __init__(self, chunks: Sequence[Chunk], progress: Progress | None) -> None:
        self.by_name = {item_name(c): c for c in chunks}
        self.results: dict[str, dict[str, Any]] = {}
        self.crashed: dict[str, str] = {}
        self.progress = progress
        self.per_cell: dict[tuple[str, str, str], int] = {}
        for c in chunks:
            self.per_cell[c.key] = self.per_cell.get(c.key, 0) + 1
        self.cells_done = 0
        self.runs = self.failures = self.lost = 0

    def _chunk(self, nodeid: str) -> Chunk | None:
        return self.by_name.get(nodeid.rpartition("::")[2])

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        chunk = self._chunk(report.nodeid)
        if chunk is None or chunk.id in self.results or chunk.id in self.crashed:
            return
        payload = next((v for k, v in report.user_properties if k == RESULT_KEY), None)
        if isinstance(payload, dict):
            self.results[chunk.id] = payload
            self.runs += int(payload["runs"])
            self.failures += int(payload["failures"])
            self.lost += int(payload.get("crashed", 0))
        elif report.failed:  # the worker crashed ("???"), or the chunk could not start
            reason = str(report.longrepr).strip().splitlines()
            self.crashed[chunk.id] = reason[-1] if reason else "failed"
            self.lost += chunk.runs
        else:
            return
        self.per_cell[chunk.key] -= 1
        if self.per_cell[chunk.key] == 0:
            self.cells_done += 1
        if self.progress is not None:
            self.progress.update(self.cells_done, self.runs, self.failures, self.lost)


def _meta(options: StressOptions, workers: str | int, chunks: int) -> dict[str, Any]:
    import harness

    try:
        from importlib.metadata import version

        aiosqlite = version("aiosqlite")
    except Exception:  # pragma: no cover - not installed as a distribution
        aiosqlite = "?"
    return {
        "command": options.command,
        "seed": options.seed,
        "runs": options.runs,
        "workers": workers,
        "shard": "{}/{}".format(*(options.shard or (1, 1))),  # 1/1: the whole plan
        "mode": "both" if len(options.modes) > 1 else options.modes[0],
        "strategy": options.strategy,
        "timeout": options.timeout,
        "scenarios": list(options.scenarios),
        "stores": list(options.stores),
        "chunks": chunks,
        "harness": harness.__version__,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "aiosqlite": aiosqlite,
        "host": platform.node(),
        "interrupted": False,
    }


def _pytest_args(spec_path: Path, options: StressOptions, chunks: int) -> list[str]:
    work = spec_path.parent
    ini = work / "pytest.ini"
    ini.write_text("[pytest]\n", encoding="utf-8")  # no project ini, addopts or conftest
    args = [
        str(spec_path),
        "-c",
        str(ini),
        "--rootdir",
        str(work),
        "--noconftest",
        "-p",
        "harness.stress._session",
        "-p",
        "no:cacheprovider",
        "-q",
        "-rfE",
        "-W",
        "ignore::pytest.PytestAssertRewriteWarning",
        "--dist",
        "worksteal",
    ]
    if options.workers is not None:
        args += ["-n", str(options.workers)]
    for tx in options.tx:
        args += ["--tx", tx]
    restarts = options.max_worker_restart
    if restarts is None:  # a crash loses one chunk; allow every chunk to crash once, within reason
        restarts = max(4 * max(options.workers or 1, len(options.tx)), min(chunks, 200))
    args += ["--max-worker-restart", str(restarts)]
    return args


def aggregate(
    cells: Sequence[tuple[str, str, str]], chunks: Sequence[Chunk], c: Collector
) -> list[Cell]:
    """One report cell per planned cell, summed over its chunks in chunk order."""
    out: dict[tuple[str, str, str], Cell] = {k: Cell(*k, runs=0, failures=0) for k in cells}
    for chunk in sorted(chunks, key=lambda ch: (cells.index(ch.key), ch.index)):
        cell = out[chunk.key]
        payload = c.results.get(chunk.id)
        if payload is None:
            if chunk.id in c.crashed:
                cell.crashed += chunk.runs
            continue
        cell.runs += int(payload["runs"])
        cell.failures += int(payload["failures"])
        cell.timed_out += int(payload["timed_out"])
        cell.crashed += int(payload["crashed"])
        cell.wall_time += float(payload["wall_time"])
        for error, n in payload["errors"].items():
            cell.errors[error] = cell.errors.get(error, 0) + int(n)
        cell.tokens = (cell.tokens + list(payload["tokens"]))[:10]
    return list(out.values())


def run_stress(options: StressOptions, *, stderr: TextIO | None = None) -> StressOutcome:
    """Run a stress session (see the module docstring); write and return the report."""
    started = time.monotonic()
    stream = stderr if stderr is not None else sys.stderr
    cells = cells_of(options.scenarios, options.stores, options.modes)
    chunks = plan(cells, options.runs, options.seed)
    if options.shard is not None:
        chunks = shard(chunks, options.shard)
    work = (options.out / WORK_DIR).resolve()
    stop = work / "STOP"
    stop.unlink(missing_ok=True)
    spec = Spec(options.seed, options.runs, options.strategy, options.timeout, run_order(chunks))
    spec.stop_file = str(stop)
    spec_path = save_spec(spec, work)
    workers: str | int = options.workers if options.workers is not None else "tx"
    if options.tx:
        workers = f"{options.workers or 0} local + tx {' '.join(options.tx)}"
    meta = _meta(options, workers, len(chunks))
    progress = Progress(len({c.key for c in chunks}), sum(c.runs for c in chunks), stream)
    collector = Collector(chunks, progress)
    log = work / "session.log"
    status: int | pytest.ExitCode = 0
    ctrl_c = _GracefulStop(stop, stream)
    try:
        if chunks:
            with (
                log.open("w", encoding="utf-8") as sink,
                contextlib.redirect_stdout(sink),
                ctrl_c,
            ):
                status = pytest.main(_pytest_args(spec_path, options, len(chunks)), [collector])
    except KeyboardInterrupt:
        ctrl_c.requested = True
    finally:
        progress.close()
    interrupted = ctrl_c.requested or status == pytest.ExitCode.INTERRUPTED
    report_cells = aggregate(cells, chunks, collector)
    warnings = _warnings(collector, chunks, status, log)
    if options.examples and not interrupted:
        try:
            from ._examples import add_examples

            failing = sum(1 for c in report_cells if c.mode == "sim" and c.failures)
            if failing:
                stream.write(f"stress: shrinking {failing} example failure(s) for the report\n")
                stream.flush()
            add_examples(report_cells)
        except KeyboardInterrupt:
            interrupted = True
    meta["interrupted"] = interrupted
    meta["wall_time"] = round(time.monotonic() - started, 3)
    report = Report(cells=report_cells, meta=meta)
    paths = write_reports(report, options.out)
    completed = int(status) in (0, 1, 2) or not chunks  # 3-5: pytest could not run the plan
    return StressOutcome(
        report, paths, interrupted, completed, warnings, time.monotonic() - started, log
    )


class _GracefulStop:
    """SIGINT during the session: the first asks workers to stop, the second aborts.

    Workers ignore SIGINT; the stop file tells them to end their chunk after
    the run in flight, so pytest-xdist delivers every measured chunk before
    the session ends. A second Ctrl-C raises ``KeyboardInterrupt`` as usual.
    """

    def __init__(self, stop_file: Path, stream: TextIO) -> None:
        self.stop_file = stop_file
        self.stream = stream
        self.requested = False
        self._previous: Any = None
        self._installed = False

    def __enter__(self) -> _GracefulStop:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
            self._installed = True
        return self

    def __exit__(self, *exc: object) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        self.stop_file.touch()
        self.stream.write(
            "\nharness stress: stopping after the runs in flight (Ctrl-C again to abort)\n"
        )
        self.stream.flush()


def _warnings(
    c: Collector, chunks: Sequence[Chunk], status: int | pytest.ExitCode, log: Path
) -> list[str]:
    lines = [f"chunk {cid} lost: {why}" for cid, why in c.crashed.items()]
    lines += [f"chunk {cid}: {p['internal']}" for cid, p in c.results.items() if p.get("internal")]
    missing = [ch.id for ch in chunks if ch.id not in c.results and ch.id not in c.crashed]
    if missing:
        lines.append(f"{len(missing)} chunk(s) never ran (first: {missing[0]})")
    if lines or status not in (0, 1, pytest.ExitCode.INTERRUPTED):
        lines.append(f"pytest session exit status {int(status)}; its log: {log}")
    return lines
