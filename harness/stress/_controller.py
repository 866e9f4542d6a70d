"""The controller of ``harness stress``: plan, run pytest-xdist sessions, account, report.

:func:`run_stress` checks the output directory first, plans the chunks
(:mod:`._spec`), and runs them in one or more *rounds*; each round is one
``pytest.main`` session with ``-p harness.stress._session`` over local
``popen`` workers and any ``--tx`` gateways, pytest's own output going to
``OUT/.harness-stress/session.log``. The plan goes to workers as data
(``workerinput``), so ``socket=`` and ``ssh=`` workers need only harness
installed. The :class:`Collector` plugin receives every run event and every
crashed item and keeps the :class:`~._ledger.Ledger`; the progress line
shows the ledger's counts against the plan.

A second round runs only when a worker died: it resumes every chunk from
the run after the one that was lost. ``--until-decided`` adds rounds that
extend the undecided cells (:mod:`._decide`). Afterwards the first failure
of each failing simulated cell is shrunk into its example
(:mod:`._examples`) and the report is written.

Invariants:

* every planned run ends in the report as passed, failed, crashed, timed
  out or never ran, and the counts add up to the plan;
* a cell's counts, tokens and examples depend only on the plan and on what
  the code under test does — not on workers, timing or sharding (a worker
  death changes only which run is recorded as lost);
* SIGINT, SIGTERM and SIGHUP stop the run within seconds and write the
  partial report (:mod:`._signals`); no worker is left running;
* a run in which no run ended although some were planned is an error.
"""

from __future__ import annotations

import contextlib
import platform
import sqlite3
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import pytest

from ..report import Cell, Plan, Report, write_reports
from ..report._json import prepare_out_dir
from ..report.write import NAMES
from ._decide import Decider
from ._ledger import Ledger
from ._progress import Progress, counts_text
from ._session import SPEC_KEY
from ._signals import Interrupts
from ._spec import Chunk, Spec, cells_of, plan, plan_id, run_order, shard
from ._xdist import (
    drain_reports,
    event_of,
    exit_status,
    guard_node,
    guard_replacements,
    is_crash_report,
    kill_local_workers,
    node_id,
    quick_teardown,
    stop_session,
    worker_id,
)

WORK_DIR = ".harness-stress"
"""Where the sessions' log goes, inside the output directory."""
MAX_RESUME_ROUNDS = 4
"""Rounds that only resume chunks cut short by dead workers, at most."""


@dataclass
class StressOptions:
    """One stress run. ``workers=None`` means only the ``tx`` gateways."""

    scenarios: list[str]
    stores: list[str]
    modes: list[str]
    runs: int
    workers: int | None = 1
    out: Path = Path("reports")
    seed: int = 0
    strategy: str = "portfolio"
    timeout: float = 60.0
    shard: tuple[int, int] | None = None
    tx: list[str] = field(default_factory=list)
    command: str = ""
    examples: bool = True
    until_decided: float | None = None
    """``--until-decided --max-rate R``: R; ``None`` runs the fixed budget."""
    confidence: float = 0.95


@dataclass
class StressOutcome:
    """What :func:`run_stress` produced."""

    report: Report
    paths: dict[str, Path]
    interrupted_by: str | None
    status: int
    """The exit status ``harness stress`` returns (0, 1, or 128 + signal)."""
    warnings: list[str]
    wall_time: float
    log: Path
    rounds: int = 1

    @property
    def interrupted(self) -> bool:
        return self.interrupted_by is not None


class Collector:
    """The controller's plugin in every session (see the module docstring)."""

    def __init__(self, ledger: Ledger, progress: Progress) -> None:
        self.ledger = ledger
        self.progress = progress
        self.interrupts = Interrupts(lambda: None, sys.stderr)  # replaced by run_stress
        self.spec: dict[str, Any] = {}
        self.by_item: dict[str, str] = {}
        self.config: pytest.Config | None = None
        self.idle_deaths = 0
        self.workers = 1
        self.failed_items: list[str] = []

    def start(self, spec: Spec, workers: int) -> None:
        self.spec = spec.to_data()
        self.by_item = {c.item_name: c.id for c in spec.chunks}
        self.workers = max(1, workers)
        self.idle_deaths = 0
        self.ledger.heard_from.clear()  # worker ids start again in every session

    def kill(self) -> None:
        if self.config is not None:
            quick_teardown(self.config)
            kill_local_workers(self.config)

    def pytest_configure(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        self.config = None

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput[SPEC_KEY] = self.spec
        guard_node(node)
        if self.config is not None:
            guard_replacements(self.config, self.ledger.warnings.append)

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        payload = event_of(report)
        with self.interrupts.critical():
            if payload is not None:
                self.ledger.event(worker_id(report), payload)
            elif is_crash_report(report):
                chunk = self.by_item.get(report.nodeid.rpartition("::")[2], "")
                status = exit_status(getattr(report, "node", None))
                self.ledger.worker_died(worker_id(report), chunk, status)
            elif report.failed:
                self.failed_items.append(f"{report.nodeid}: {str(report.longrepr)[:300]}")
            else:
                return
            t = self.ledger.totals
            self.progress.update(t.runs, t.failed, t.crashed, t.timed_out)

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.interrupts.requested and self.config is not None:
            for report in drain_reports(self.config):  # what was sent before the stop
                self.pytest_runtest_logreport(report)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        if error is None or node_id(node) in self.ledger.heard_from:
            return
        self.idle_deaths += 1
        if self.idle_deaths >= 2 * self.workers + 2 and self.config is not None:
            stop_session(self.config, "harness stress: workers keep dying before running anything")


def _pytest_args(options: StressOptions, items: int) -> list[str]:
    # One argument per option (no bare paths or numbers): pytest-xdist rewrites arguments
    # that name existing files for remote workers, and there must be none.
    args = [
        "--config-file=/dev/null",
        "-pharness.stress._session",
        "-pno:cacheprovider",
        "-pno:randomly",
        "--noconftest",
        "-q",
        "-rfE",
        "-Wignore::pytest.PytestAssertRewriteWarning",
        "--dist=worksteal",
    ]
    args += ["--tx=popen"] * (options.workers or 0)
    args += [f"--tx={tx}" for tx in options.tx]
    workers = (options.workers or 0) + len(options.tx)
    args.append(f"--max-worker-restart={items + 4 * workers}")
    return args


def _meta(options: StressOptions, chunks: int) -> dict[str, Any]:
    import harness

    try:
        from importlib.metadata import version

        aiosqlite = version("aiosqlite")
    except Exception:  # pragma: no cover - not installed as a distribution
        aiosqlite = "?"
    workers: Any = options.workers or 0
    if options.tx:
        workers = f"{options.workers or 0} local + {len(options.tx)} --tx"
    return {
        "command": options.command,
        "seed": options.seed,
        "runs": options.runs,
        "workers": workers,
        "tx": list(options.tx),
        "shard": "{}/{}".format(*(options.shard or (1, 1))),
        "mode": "both" if len(options.modes) > 1 else options.modes[0],
        "strategy": options.strategy,
        "timeout_s": options.timeout,
        "until_decided": options.until_decided,
        "confidence": options.confidence if options.until_decided is not None else None,
        "scenarios": list(options.scenarios),
        "stores": list(options.stores),
        "chunks": chunks,
        "harness": harness.__version__,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "aiosqlite": aiosqlite,
        "host": platform.node(),
    }


class _Rounds:
    """Which chunks each round runs (resumes, and ``--until-decided`` extensions)."""

    def __init__(self, chunks: Sequence[Chunk], ledger: Ledger, decider: Decider | None) -> None:
        self.all = list(chunks)
        self.ledger = ledger
        self.decider = decider
        self.decided: dict[tuple[str, str, str], str] = {}
        self.targets: dict[tuple[str, str, str], int] = {}
        self.scheduled: set[str] = set()
        if decider is not None:
            for chunk in chunks:
                self.targets.setdefault(chunk.key, decider.first_target(chunk.mode))

    def _extend(self) -> list[Chunk]:
        new = [
            c
            for c in self.all
            if c.id not in self.scheduled
            and c.key not in self.decided
            and (self.decider is None or c.start < self.targets[c.key])
        ]
        self.scheduled.update(c.id for c in new)
        return new

    def first(self) -> list[Chunk]:
        return self._extend()

    def next(self, previous: Sequence[Chunk]) -> list[Chunk]:
        leftovers = self.ledger.resumes(previous)
        if self.decider is not None:
            self._decide()
            leftovers = [c for c in leftovers if c.key not in self.decided]
        self.ledger.add_chunks(leftovers)
        return leftovers + (self._extend() if self.decider is not None else [])

    def _decide(self) -> None:
        assert self.decider is not None
        for key, target in self.targets.items():
            if key in self.decided:
                continue
            failing, runs = self.ledger.counts(key)
            verdict = self.decider.verdict(key[2], failing, runs)
            if verdict is not None:
                self.decided[key] = verdict
                account = self.ledger.accounts[key]
                account.stopped = "first-failure" if key[2] == "sim" else "decided"
                account.planned = runs
            elif runs >= target:
                self.targets[key] = self.decider.next_target(key[2], failing, runs)


def run_stress(options: StressOptions, *, stderr: TextIO | None = None) -> StressOutcome:
    """Run a stress run (see the module docstring); write and return its report.

    Raises :class:`~harness.report.ReportError` before running anything when
    the output directory is unusable.
    """
    started = time.monotonic()
    stream = stderr if stderr is not None else sys.stderr
    out = prepare_out_dir(options.out, NAMES)
    work = out / WORK_DIR
    work.mkdir(exist_ok=True)
    log = work / "session.log"
    log.write_text("", encoding="utf-8")
    cells = cells_of(options.scenarios, options.stores, options.modes)
    chunks = plan(cells, options.runs, options.seed)
    if options.shard is not None:
        chunks = shard(chunks, options.shard)
    ledger = Ledger(
        cells, chunks, seed=options.seed, timeout=options.timeout, strategy=options.strategy
    )
    decider = None
    if options.until_decided is not None:
        decider = Decider(options.until_decided, options.confidence, options.runs)
    progress = Progress(sum(c.runs for c in chunks), stream)
    collector = Collector(ledger, progress)
    interrupts = Interrupts(collector.kill, stream, "harness stress")
    collector.interrupts = interrupts
    with interrupts:
        statuses = _run_rounds(_Rounds(chunks, ledger, decider), options, collector, log)
        report_cells = ledger.cells()
        if options.examples and not interrupts.requested:
            _add_examples(report_cells, ledger, stream, interrupts)
    report = _report(options, chunks, report_cells, interrupts, len(statuses), started)
    t = ledger.totals
    final = counts_text(t.runs, report.planned, t.failed, t.crashed, t.timed_out, report.never_ran)
    progress.close(f"stress: {final}")
    warnings = _warnings(ledger, collector, statuses, log, report)
    report.meta["warnings"] = warnings
    paths = write_reports(report, out)
    status = interrupts.status if interrupts.requested else int(bool(report.never_ran))
    elapsed = time.monotonic() - started
    return StressOutcome(
        report, paths, interrupts.signal, status, warnings, elapsed, log, len(statuses)
    )


def _run_rounds(rounds: _Rounds, options: StressOptions, c: Collector, log: Path) -> list[int]:
    """Run sessions until no chunk is left, a round ends nothing, or a signal; their statuses."""
    interrupts, ledger = c.interrupts, c.ledger
    decider = rounds.decider
    limit = MAX_RESUME_ROUNDS + (decider.looks if decider is not None else 1)
    statuses: list[int] = []
    todo = rounds.first()
    try:
        while todo and len(statuses) < limit and not interrupts.requested:
            before = ledger.totals.runs
            statuses.append(_session(todo, options, c, log))
            if interrupts.requested:
                break
            if ledger.totals.runs == before:
                ledger.warnings.append(f"round {len(statuses)} ended no run: stopping")
                break
            todo = rounds.next(todo)
    except KeyboardInterrupt:
        if not interrupts.requested:  # a KeyboardInterrupt not from our handler
            interrupts.signal, interrupts.status = "SIGINT", 130
    return statuses


def _session(chunks: Sequence[Chunk], options: StressOptions, c: Collector, log: Path) -> int:
    spec = Spec(options.seed, options.strategy, options.timeout, run_order(list(chunks)))
    c.start(spec, (options.workers or 0) + len(options.tx))
    args = _pytest_args(options, len(chunks))
    with (
        log.open("a", encoding="utf-8") as sink,
        contextlib.redirect_stdout(sink),
        contextlib.redirect_stderr(sink),
    ):
        sink.write(f"=== pytest {' '.join(args)} ({len(chunks)} chunks)\n")
        sink.flush()
        return int(pytest.main(args, [c]))


def _add_examples(
    cells: list[Cell], ledger: Ledger, stream: TextIO, interrupts: Interrupts
) -> None:
    from ._examples import add_examples

    failing = sum(1 for c in cells if c.simulated and c.failures)
    if not failing:
        return
    with contextlib.suppress(OSError, ValueError):
        stream.write(f"stress: shrinking the first failure of {failing} simulated cell(s)\n")
        stream.flush()

    def first(cell: Cell) -> tuple[int, str] | None:
        tokens = ledger.failing_tokens(cell.key)
        return tokens[0] if tokens else None

    try:
        add_examples(cells, first)
    except KeyboardInterrupt:  # the runs are all measured: write them, without more examples
        ledger.warnings.append("examples incomplete: interrupted while shrinking")
        interrupts.signal = None


def _report(
    options: StressOptions,
    chunks: Sequence[Chunk],
    cells: list[Cell],
    interrupts: Interrupts,
    rounds: int,
    started: float,
) -> Report:
    keys = cells_of(options.scenarios, options.stores, options.modes)
    pid = plan_id(
        cells=keys,
        runs=options.runs,
        seed=options.seed,
        strategy=options.strategy,
        timeout=options.timeout,
        until_decided=options.until_decided,
        confidence=options.confidence if options.until_decided is not None else None,
    )
    shard_info = None
    if options.shard is not None:
        i, n = options.shard
        shard_info = {"index": i, "count": n, "indices": [i]}
    meta = _meta(options, len(chunks))
    meta["rounds"] = rounds
    meta["wall_time_s"] = round(time.monotonic() - started, 3)
    return Report(
        cells=cells,
        meta=meta,
        plan=Plan(id=pid, runs_per_cell=options.runs, cells=keys, shard=shard_info),
        interrupted=interrupts.requested,
        interrupted_by=interrupts.signal,
    )


def _warnings(
    ledger: Ledger, c: Collector, statuses: Sequence[int], log: Path, report: Report
) -> list[str]:
    lines = list(ledger.warnings)
    lines += [f"chunk failed to run: {line}" for line in c.failed_items[:5]]
    if report.planned and ledger.totals.runs == 0:
        lines.append(
            "no run ended: the workers ran nothing (they could not start, collect the plan, "
            "or reach the controller)"
        )
    elif report.never_ran and not report.interrupted:
        lines.append(f"{report.never_ran:,} planned run(s) never ran")
    if lines or any(s not in (0, 1, pytest.ExitCode.INTERRUPTED) for s in statuses):
        shown = ", ".join(str(s) for s in statuses)
        last = _last_error(log)
        lines.append(f"pytest session exit status {shown}{last}; its log: {log}")
    return lines


def _last_error(log: Path) -> str:
    """The last error line pytest wrote (``: ConnectionRefusedError: ...``), if any."""
    try:
        tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-200:]
    except OSError:
        return ""
    for line in reversed(tail):
        text = line.removeprefix("INTERNALERROR>").strip()
        if line.startswith(("INTERNALERROR>", "E ")) and "Error" in text.split(":")[0]:
            return f" ({text.removeprefix('E ').strip()[:200]})"
    return ""
