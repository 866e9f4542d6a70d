"""``pytest --harness-stress=N [--harness-report=DIR]``: flake rates of a project's own tests.

Registered by :mod:`harness.pytest_plugin` only when one of these options is
given. Every selected test is measured N times and a flake-rate report (the
same schema as ``harness stress``) is written to DIR (default ``reports``),
which is checked before anything runs:

* a **plain test** is parametrized N times (ids ``stress1`` … ``stressN``),
  so each repetition has fresh function-scoped fixtures and pytest-xdist
  spreads them over workers: a cell with mode ``real``, one run per item;
* a **harness test** (``@pytest.mark.harness`` or the ``sim`` fixture, an
  ``async def``) gets the single id ``harness-sim`` and explores N schedules
  (``stop_on_first=False``; seed from the test's own node id, as without
  stress): a cell with mode ``sim``, its first failure shrunk into the
  example with its ``--harness-replay`` command.

**Every planned run is accounted for.** Runs are reported to the controller
as they start and end (:mod:`._xdist` run events), so a repetition whose
worker dies is recorded as ``crashed`` (with the worker's exit code or
signal) and one that exceeds the per-run timeout
(``--harness-stress-timeout``, default 60 s) is killed from outside its
process by the worker's watchdog and recorded as ``timed_out``;
pytest-xdist replaces the worker and the session goes on. Without ``-n`` the
session runs in one pytest-xdist worker for that reason; with ``-p
no:xdist`` it runs in-process, where only Python-level hangs time out
(``SIGALRM``) and a crash ends the session. SIGINT, SIGTERM and SIGHUP
write the partial report, marked interrupted, with what never ran.

**Measured failures are data, not test failures**: a failing repetition,
schedule or crash is recorded and its item *passes*, so the session's exit
status says whether the measurement ran, and ``harness gate`` decides about
the rates. Skipped repetitions are not runs (they leave the plan).

Invariants: a run is counted once, by the controller; cell order follows
the collection; a cell's counts, tokens and examples never depend on worker
timing (a crash changes only which run is recorded as lost).
"""

from __future__ import annotations

import inspect
import os
import re
import signal
import threading
import time
from collections.abc import Generator
from contextlib import nullcontext
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from .._plugin.options import STRESS_TIMEOUT as DEFAULT_TIMEOUT
from .._plugin.options import derive_seed, is_harness_test
from .._plugin.options import options as plugin_options
from ..report import Plan, Report, ReportError, write_reports
from ..report._json import prepare_out_dir
from ..report.write import NAMES
from ._examples import PER_EXAMPLE, OutOfTime, example_dict, with_budget
from ._ledger import Ledger
from ._progress import counts_text
from ._signals import Interrupts, leave_interrupts_to_the_controller
from ._spec import Chunk, plan_id
from ._tracebacks import describe
from ._watchdog import Watchdog
from ._worker import batch_due
from ._xdist import (
    EventCodec,
    drain_reports,
    event_of,
    exit_status,
    guard_node,
    guard_replacements,
    is_crash_report,
    kill_local_workers,
    node_id,
    quick_teardown,
    send_event,
    set_max_restarts,
    stop_session,
    use_one_worker,
    worker_id,
    workerinput,
)

PARAM = "_harness_stress_run"
SIM_ID = "harness-sim"
_PLAIN_ID = re.compile(r"(?:^|-)stress(\d+)(?=-|$)")
_SIM_ID = re.compile(rf"(?:^|-){SIM_ID}(?=-|$)")
_STATE = pytest.StashKey[dict[str, Any]]()


def register(config: pytest.Config) -> None:
    """Validate the options and register the plugin (called from ``pytest_configure``)."""
    runs = config.getoption("harness_stress")
    if runs is None:
        raise pytest.UsageError("--harness-report needs --harness-stress=N")
    if config.getoption("harness_replay") is not None:
        raise pytest.UsageError("--harness-stress and --harness-replay cannot be combined")
    worker = workerinput(config) is not None
    out = Path(config.invocation_params.dir, config.getoption("harness_report") or "reports")
    if not worker:
        try:
            out = prepare_out_dir(out, NAMES)
        except ReportError as exc:
            raise pytest.UsageError(f"--harness-report: {exc}") from None
    plugin = StressPlugin(config, runs, out)
    config.pluginmanager.register(EventCodec(), "harness-stress-events")
    config.pluginmanager.register(plugin, "harness-stress")
    if not worker and use_one_worker(config):
        plugin.notes.append(
            "running in one pytest-xdist worker so that a crashing or hanging run is recorded "
            "(-n N for more workers)"
        )
    if not worker:
        set_max_restarts(config, 10**6)  # every crash is a measurement; see pytest_testnodedown


def _timeout(config: pytest.Config) -> float:
    value = config.getoption("harness_stress_timeout", None)
    return float(value) if value is not None else DEFAULT_TIMEOUT


def split_id(nodeid: str) -> tuple[str, str, int] | None:
    """``(base node id, mode, run)`` of a stress item's node id; ``None`` for other items."""
    if not nodeid.endswith("]") or "[" not in nodeid:
        return None
    head, _, params = nodeid[:-1].partition("[")
    match = _PLAIN_ID.search(params)
    mode, run = "real", 0
    if match is not None:
        run = int(match.group(1)) - 1
    else:
        match = _SIM_ID.search(params)
        if match is None:
            return None
        mode = "sim"
    rest = (params[: match.start()] + params[match.end() :]).strip("-")
    return (f"{head}[{rest}]" if rest else head), mode, run


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"


def _where(config: pytest.Config, nodeid: str) -> str:
    """``nodeid`` as given on a command line run where pytest was invoked."""
    path, sep, rest = nodeid.partition("::")
    invoked, root = config.invocation_params.dir, config.rootpath
    if path and invoked != root:
        try:
            path = os.path.relpath(root / path, invoked)
        except ValueError:  # pragma: no cover - another drive on Windows
            path = str(root / path)
    return path + sep + rest


class StressTimeout(Exception):
    """A repetition exceeded the per-run timeout in an in-process session (``SIGALRM``)."""


class _Alarm:
    """In-process per-run timeout (no pytest-xdist): SIGALRM raises StressTimeout."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.usable = hasattr(signal, "setitimer")

    def arm(self) -> None:
        if self.usable and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGALRM, self._fire)
            signal.setitimer(signal.ITIMER_REAL, self.seconds)

    def disarm(self) -> None:
        if self.usable and threading.current_thread() is threading.main_thread():
            signal.setitimer(signal.ITIMER_REAL, 0)

    def _fire(self, signum: int, frame: FrameType | None) -> None:
        raise StressTimeout(f"the run exceeded {self.seconds:g} s")


class StressPlugin:
    """The hooks of a ``--harness-stress`` session (see the module docstring)."""

    def __init__(self, config: pytest.Config, runs: int, out: Path) -> None:
        self.config = config
        self.runs = runs
        self.out = out
        self.timeout = _timeout(config)
        self.is_worker = workerinput(config) is not None
        self.watchdog = Watchdog() if self.is_worker else None
        self.alarm = _Alarm(self.timeout)
        self.notes: list[str] = []
        self.paths: dict[str, Path] = {}
        self.report = Report()
        self.started = time.monotonic()
        self.ledger: Ledger | None = None
        self.ids: list[str] = []
        self.idle_deaths = 0
        self.interrupts: Interrupts | None = None
        if self.is_worker:
            leave_interrupts_to_the_controller()
        elif threading.current_thread() is threading.main_thread():
            self.interrupts = Interrupts(self._kill, _stderr(), "harness stress")
            self.interrupts.__enter__()

    # ---------------------------------------------------- run-time helpers
    def _kill(self) -> None:
        quick_teardown(self.config)
        kill_local_workers(self.config)

    def _arm(self) -> None:
        if self.watchdog is not None:
            self.watchdog.arm(self.timeout)
        else:
            self.alarm.arm()

    def _disarm(self) -> None:
        if self.watchdog is not None:
            self.watchdog.disarm()
        else:
            self.alarm.disarm()

    # ------------------------------------------------------------- workers
    @pytest.hookimpl(trylast=True)
    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        function = metafunc.function
        if metafunc.definition.get_closest_marker("harness") or "sim" in metafunc.fixturenames:
            if not inspect.iscoroutinefunction(function) or hasattr(function, "hypothesis"):
                return  # not measurable: runs as usual (the plugin reports the misuse)
            metafunc.fixturenames.append(PARAM)
            metafunc.parametrize(PARAM, [0], ids=[SIM_ID])
            return
        metafunc.fixturenames.append(PARAM)
        ids = [f"stress{k}" for k in range(1, self.runs + 1)]
        metafunc.parametrize(PARAM, range(1, self.runs + 1), ids=ids)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: Any) -> Generator[None]:
        parts = split_id(item.nodeid)
        if parts is None or parts[1] != "real":
            return (yield)
        item.stash[_STATE] = {"detail": None, "outcome": "passed", "wall": 0.0}
        send_event(item, {"t": "start", "chunk": item.nodeid, "run": parts[2]})
        self._arm()
        try:
            return (yield)
        finally:
            self._disarm()

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
        report: pytest.TestReport = yield
        state = item.stash.get(_STATE, None)
        parts = split_id(item.nodeid)
        if state is None or parts is None:
            return report
        state["wall"] += report.duration
        if report.skipped and state["outcome"] == "passed":
            state["outcome"] = "skipped"
        elif report.failed and state["detail"] is None:
            error = call.excinfo.value if call.excinfo is not None else None
            timed_out = isinstance(error, StressTimeout)
            state["outcome"] = "timed_out" if timed_out else "failed"
            detail: dict[str, Any] = describe(error) if error is not None else {"error": "failed"}
            if report.when != "call":
                detail["error"] = f"{report.when}: {detail['error']}"
            base = parts[0]
            detail.update(seed=None, command=f"pytest {_quoted(_where(self.config, base))}")
            state["detail"] = detail
        if report.when == "call" and report.failed:
            report.outcome = "passed"  # measured: the gate decides, not this session
            report.longrepr = None
        if report.when == "teardown":
            payload = {
                "t": "end",
                "chunk": item.nodeid,
                "run": parts[2],
                "outcome": state["outcome"],
                "detail": state["detail"],
            }
            send_event(item, payload)
        return report

    @pytest.hookimpl(tryfirst=True)
    def pytest_pyfunc_call(self, pyfuncitem: pytest.Function) -> bool | None:
        parts = split_id(pyfuncitem.nodeid)
        if parts is None or parts[1] != "sim" or not is_harness_test(pyfuncitem):
            return None
        options = plugin_options(pyfuncitem)
        _Exploration(self, pyfuncitem, parts[0], options).run()
        return True

    # ---------------------------------------------------------- controller
    def _plan(self, ids: list[str]) -> None:
        if self.ledger is not None and (self.ids or not ids):
            return  # planned already (the first worker's collection; all workers collect alike)
        cells: dict[tuple[str, str, str], None] = {}
        chunks, idents = [], []
        for nodeid in ids:
            parts = split_id(nodeid)
            if parts is None:
                continue
            base, mode, run = parts
            cells[(base, "-", mode)] = None
            runs = self.runs if mode == "sim" else 1
            chunks.append(Chunk(base, "-", mode, run, run, runs, 0))
            idents.append(nodeid)
        self.ids = ids
        self.ledger = Ledger(
            list(cells), [], seed=0, timeout=self.timeout, strategy="marker", rerun=self._rerun
        )
        for chunk in chunks:
            self.ledger.accounts[chunk.key].planned += chunk.runs
        self.ledger.add_chunks(chunks, idents)

    def _rerun(self, chunk: Chunk, run: int) -> tuple[int | None, str | None]:
        if chunk.mode == "sim":
            return None, None
        return None, f"pytest {_quoted(_where(self.config, chunk.name))}"

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        self._plan(list(ids))

    @pytest.hookimpl
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if not self.is_worker:
            self._plan([item.nodeid for item in session.items])

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        guard_node(node)
        guard_replacements(self.config, self.notes.append)

    @pytest.hookimpl(optionalhook=True, tryfirst=True)
    def pytest_handlecrashitem(self, crashitem: str, report: pytest.TestReport, sched: Any) -> None:
        if split_id(crashitem) is not None:
            report.outcome = "passed"  # recorded as crashed / timed out: the gate decides

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self.is_worker or self.ledger is None:
            return
        payload = event_of(report)
        critical = self.interrupts.critical() if self.interrupts is not None else nullcontext()
        with critical:
            if payload is not None:
                self.ledger.event(worker_id(report), payload)
            elif is_crash_report(report):
                status = exit_status(getattr(report, "node", None))
                self.ledger.worker_died(worker_id(report), report.nodeid, status)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        if error is None or self.ledger is None or node_id(node) in self.ledger.heard_from:
            return
        self.idle_deaths += 1
        if self.idle_deaths >= 10:
            stop_session(self.config, "harness stress: workers keep dying before running tests")

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        if self.interrupts is not None:
            self.interrupts.__exit__()

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.is_worker:
            if self.watchdog is not None:
                self.watchdog.close()
            return
        if self.interrupts is not None:
            self.interrupts.__exit__()
        if self.ledger is None:
            self._plan([])
        if exitstatus == pytest.ExitCode.INTERRUPTED:
            for report in drain_reports(self.config):  # what was sent before the stop
                self.pytest_runtest_logreport(report)
        assert self.ledger is not None
        interrupted = exitstatus == pytest.ExitCode.INTERRUPTED
        by = self.interrupts.signal if self.interrupts is not None else None
        self.report = Report(
            cells=self.ledger.cells(),
            meta=self._meta(),
            plan=self._plan_of(),
            interrupted=interrupted or by is not None,
            interrupted_by=by or ("SIGINT" if interrupted else None),
        )
        try:
            self.paths = write_reports(self.report, self.out)
        except ReportError as exc:
            self.notes.append(str(exc))
        if self.interrupts is not None and self.interrupts.status:
            session.exitstatus = self.interrupts.status  # 128 + the signal, as a shell says

    def _plan_of(self) -> Plan:
        assert self.ledger is not None
        cells = list(self.ledger.order)
        option = self.config.getoption
        pid = plan_id(
            ids=self.ids,
            runs=self.runs,
            seed=option("harness_seed"),
            strategy=option("harness_strategy"),
            schedules=option("harness_schedules"),
            timeout=self.timeout,
        )
        return Plan(id=pid, runs_per_cell=self.runs, cells=cells, shard=None)

    def _meta(self) -> dict[str, Any]:
        import platform
        import sqlite3

        import harness

        option = self.config.option
        args = self.config.invocation_params.args
        return {
            "command": " ".join(["pytest", *args]),
            "seed": self.config.getoption("harness_seed") or 0,
            "runs": self.runs,
            "workers": getattr(option, "numprocesses", None)
            or len(getattr(option, "tx", []) or []),
            "timeout_s": self.timeout,
            "strategy": self.config.getoption("harness_strategy") or "marker",
            "harness": harness.__version__,
            "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version,
            "wall_time_s": round(time.monotonic() - self.started, 3),
            "warnings": list(self.notes),
        }

    @pytest.hookimpl
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.is_worker:
            return
        from ._summary import summary

        tr = terminalreporter
        tr.section("harness stress")
        for line in self.notes:
            tr.write_line(f"note: {line}")
        for line in summary(self.report.cells).splitlines():
            tr.write_line(line)
        r = self.report
        failed = sum(c.failures for c in r.cells)
        crashed = sum(c.crashed for c in r.cells)
        timed_out = sum(c.timed_out for c in r.cells)
        runs = sum(c.runs for c in r.cells)
        tr.write_line("")
        tr.write_line(counts_text(runs, r.planned, failed, crashed, timed_out, r.never_ran))
        if r.interrupted:
            tr.write_line(f"interrupted by {r.interrupted_by}: the report is partial")
        if not self.paths:
            return
        tr.write_line(
            "measured failures do not fail this session; judge the rates with "
            f"'harness gate {self.paths['json']} --max-rate R'"
        )
        for kind, path in self.paths.items():
            tr.write_line(f"{kind:<8} {path}")


def _stderr() -> Any:
    import sys

    return sys.stderr


class _Exploration:
    """One harness test explored ``runs`` schedules, reported as run events."""

    def __init__(
        self, plugin: StressPlugin, item: pytest.Function, base: str, options: dict[str, Any]
    ) -> None:
        self.plugin, self.item, self.base, self.o = plugin, item, base, options
        self.pending = ""
        self.ran = self.failing = 0
        self.sent_at = time.monotonic()

    def emit(self, payload: dict[str, Any]) -> None:
        send_event(self.item, {**payload, "chunk": self.item.nodeid})

    def progress(self, ran: int, failing: int) -> None:
        self.pending += "F" if failing > self.failing else "P"
        self.ran, self.failing = ran, failing
        if batch_due(ran, len(self.pending), time.monotonic() - self.sent_at):
            self.flush()
        if self.plugin.watchdog is not None:
            self.plugin.watchdog.arm(self.plugin.timeout)

    def flush(self) -> None:
        if self.pending:
            first = self.ran - len(self.pending)
            self.emit({"t": "sim", "first": first, "outcomes": self.pending})
            self.pending = ""
        self.sent_at = time.monotonic()

    def run(self) -> None:
        import harness

        from .._plugin.program import schedule_program

        o = self.o
        self.emit({"t": "begin"})
        started = time.perf_counter()
        if self.plugin.watchdog is not None:
            self.plugin.watchdog.arm(self.plugin.timeout)
        program = schedule_program(self.item, o)
        try:
            result = harness.explore(
                **program,
                schedules=self.plugin.runs,
                strategy=o["strategy"],
                seed=derive_seed(self.base, o["seed"]),
                mode=o["mode"],
                faults=o["faults"],
                recover=o["recover"],
                max_steps=o["max_steps"],
                stop_on_first=False,
                shrink=False,
                label="",
                progress=self.progress,
                workers=1,  # the stress runner's workers are the parallelism
            )
        finally:
            if self.plugin.watchdog is not None:
                self.plugin.watchdog.disarm()
        self.flush()
        failures = [[f.schedule, {**describe(f.error), "token": f.token}] for f in result.failures]
        strategy = o["strategy"]
        bound = getattr(strategy, "bound", 2) if result.exhausted else None
        done: dict[str, Any] = {
            "t": "done",
            "failures": failures,
            "coverage": {
                "distinct": result.distinct_schedules,
                "strategy": result.strategy,
                "exhausted": result.exhausted,
                "bound": bound,
            },
            "wall": time.perf_counter() - started,
            "examples": self._example(result),
        }
        if result.exhausted:
            done["planned"] = result.schedules_run
        self.emit(done)

    def _example(self, result: Any) -> list[dict[str, Any]]:
        import harness
        from harness._explore import shrink_token

        from .._plugin.program import schedule_program

        if not result.failures:
            return []
        first = result.failures[0]
        try:
            shrunk = with_budget(
                PER_EXAMPLE,
                lambda: shrink_token(
                    **schedule_program(self.item, self.o),
                    token=first.token,
                    recover=self.o["recover"],
                    max_steps=self.o["max_steps"],
                ),
            )
        except (OutOfTime, ValueError, harness.HarnessError):
            shrunk = first
        where = _quoted(_where(self.item.config, self.base))
        command = f"pytest {where} --harness-replay={shrunk.token}"
        example = example_dict(
            shrunk.token, shrunk.error, shrunk.events, command, shrunk is not first, first.schedule
        )
        return [example]
