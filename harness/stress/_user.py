"""``pytest --harness-stress=N [--harness-report=DIR]``: flake rates of a project's own tests.

Registered by :mod:`harness.pytest_plugin` only when one of these options is
given. Every selected test is measured N times and a flake-rate report (the
same schema as ``harness stress``) is written to DIR (default ``reports``):

* a **harness test** (``@pytest.mark.harness`` or the ``sim`` fixture) stays
  one item that explores N schedules (``stop_on_first=False``,
  ``shrink=False``; seed as without stress, from the node id): a cell with
  mode ``sim``, failures = failing schedules, their tokens, and the first one
  shrunk into the swimlane example with its ``--harness-replay`` command;
* a **plain test** is parametrized N times (ids ``stress1`` … ``stressN``), so
  each repetition has fresh function-scoped fixtures and pytest-xdist spreads
  them over workers: a cell with mode ``real``.

Cells are named by the test's node id (without the repetition id), store
``-``. **Measured failures are data, not test failures**: a failing
repetition or schedule is recorded and its item *passes*, so the session's
exit status says whether the measurement ran, and ``harness gate`` decides
about the rates. Errors outside the test call (fixture set-up or teardown)
still count as a failing run *and* stay errors. Skipped runs are not runs.

Invariants: a run is counted once, by the controller (or the only process
without xdist), from the ``("harness_stress", dict)`` entry the worker puts in
the report's ``user_properties``; cell order, tokens and examples follow the
collection order and repetition index, never worker timing.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from ..report import Cell, Report, write_reports
from ._examples import PER_EXAMPLE, OutOfTime, example_dict, with_budget

PARAM = "_harness_stress_run"
KEY = "harness_stress"
_STATE = pytest.StashKey[dict[str, Any]]()
_SIM = pytest.StashKey[dict[str, Any]]()
_INDEX = pytest.StashKey[int]()


def register(config: pytest.Config) -> None:
    """Validate the options and register the plugin (called from ``pytest_configure``)."""
    runs = config.getoption("harness_stress")
    if runs is None:
        raise pytest.UsageError("--harness-report needs --harness-stress=N")
    if config.getoption("harness_replay") is not None:
        raise pytest.UsageError("--harness-stress and --harness-replay cannot be combined")
    config.pluginmanager.register(StressPlugin(config, runs), "harness-stress")


def _base(item: pytest.Item) -> tuple[str, int]:
    """The node id without the repetition id, and the repetition number."""
    callspec: Any = getattr(item, "callspec", None)
    k = int(callspec.params[PARAM])
    ours, full = f"stress{k}", callspec.id
    if full == ours:
        rest = ""
    elif full.endswith("-" + ours):
        rest = full[: -len(ours) - 1]
    elif full.startswith(ours + "-"):
        rest = full[len(ours) + 1 :]
    else:
        rest = full.replace(f"-{ours}-", "-")
    name = item.originalname + (f"[{rest}]" if rest else "")  # type: ignore[attr-defined]
    return item.nodeid[: len(item.nodeid) - len(item.name)] + name, k


def _crash_line(report: pytest.TestReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    message = getattr(crash, "message", None) or str(report.longrepr).strip()
    lines = message.splitlines()
    return " ".join(lines[0].split())[:300] if lines else "failed"


class StressPlugin:
    """The hooks of a ``--harness-stress`` session (see the module docstring)."""

    def __init__(self, config: pytest.Config, runs: int) -> None:
        self.config = config
        self.runs = runs
        self.is_worker = hasattr(config, "workerinput")
        out = config.getoption("harness_report") or "reports"
        self.out = Path(config.invocation_params.dir, out)
        self.cells: dict[tuple[str, str], dict[str, Any]] = {}
        self.paths: dict[str, Path] = {}
        self.report = Report()
        self.started = time.monotonic()

    # ------------------------------------------------------------ workers
    @pytest.hookimpl(trylast=True)
    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        if metafunc.definition.get_closest_marker("harness") or "sim" in metafunc.fixturenames:
            return  # a harness test: one item, N schedules
        metafunc.fixturenames.append(PARAM)
        ids = [f"stress{k}" for k in range(1, self.runs + 1)]
        metafunc.parametrize(PARAM, range(1, self.runs + 1), ids=ids)

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for index, item in enumerate(items):  # the same on every worker (xdist checks it)
            item.stash[_INDEX] = index

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
        report: pytest.TestReport = yield
        measured = item.stash.get(_SIM, None)
        if measured is not None and report.when == "call":
            report.user_properties.append((KEY, measured))
        callspec = getattr(item, "callspec", None)
        if callspec is None or PARAM not in callspec.params:
            return report
        state = item.stash.setdefault(_STATE, {"failed": False, "skipped": False, "wall": 0.0})
        state["wall"] += report.duration
        if report.skipped:
            state["skipped"] = True
        elif report.failed and not state["failed"]:
            where = "" if report.when == "call" else f"{report.when}: "
            kind = call.excinfo.typename if call.excinfo is not None else "failed"
            state.update(failed=True, kind=where + kind, error=where + _crash_line(report))
        if report.when == "call" and report.failed:
            report.outcome = "passed"  # measured: the gate decides, not this session
            report.longrepr = None
        if report.when == "teardown" and not state["skipped"]:
            report.user_properties.append((KEY, self._repetition(item, state)))
        return report

    def _repetition(self, item: pytest.Item, state: dict[str, Any]) -> dict[str, Any]:
        """The measurement of one repetition of a plain test (sent with its teardown report)."""
        base, k = _base(item)
        failed = bool(state["failed"])
        example = None
        if failed:
            quoted = "'" + base.replace("'", "'\"'\"'") + "'"
            example = {
                "token": item.nodeid,
                "error": state["error"],
                "command": f"pytest {quoted} --harness-stress={self.runs}",
                "events": [],
            }
        return {
            "cell": base,
            "mode": "real",
            "index": item.stash.get(_INDEX, 0),
            "repetition": k,
            "runs": 1,
            "failures": int(failed),
            "errors": {state["kind"]: 1} if failed else {},
            "tokens": [item.nodeid] if failed else [],
            "wall_time": state["wall"],
            "example": example,
        }

    @pytest.hookimpl(tryfirst=True)
    def pytest_pyfunc_call(self, pyfuncitem: pytest.Function) -> bool | None:
        import inspect

        from .. import pytest_plugin as plugin

        function = pyfuncitem.obj
        if not plugin.is_harness_test(pyfuncitem) or hasattr(function, "hypothesis"):
            return None  # plain tests run as usual; misuse is reported by the plugin's runner
        if not inspect.iscoroutinefunction(function):
            return None
        options = plugin._options(pyfuncitem)
        payload = self._explore(pyfuncitem, options)
        payload["index"] = pyfuncitem.stash.get(_INDEX, 0)
        pyfuncitem.stash[_SIM] = payload  # into the call report only (see makereport)
        return True

    def _explore(self, item: pytest.Function, o: dict[str, Any]) -> dict[str, Any]:
        import harness
        from harness._explore import shrink_token

        from .. import pytest_plugin as plugin

        started = time.perf_counter()
        result = harness.explore(
            plugin._body(item),
            schedules=self.runs,
            strategy=o["strategy"],
            seed=plugin.derive_seed(item.nodeid, o["seed"]),
            mode=o["mode"],
            faults=o["faults"],
            recover=o["recover"],
            max_steps=o["max_steps"],
            stop_on_first=False,
            shrink=False,
            label="",
        )
        errors: dict[str, int] = {}
        for f in result.failures:
            errors[type(f.error).__name__] = errors.get(type(f.error).__name__, 0) + 1
        example = None
        if result.failures:
            first = result.failures[0]
            try:
                shrunk = with_budget(
                    PER_EXAMPLE,
                    lambda: shrink_token(
                        plugin._body(item),
                        first.token,
                        recover=o["recover"],
                        max_steps=o["max_steps"],
                    ),
                )
            except (OutOfTime, ValueError, harness.HarnessError):
                shrunk = first
            command = plugin.replay_command(item, shrunk.token)
            example = example_dict(
                shrunk.token, shrunk.error, shrunk.events, command, shrunk is not first
            )
        return {
            "cell": item.nodeid,
            "mode": "sim",
            "repetition": 0,
            "runs": result.schedules_run,
            "failures": len(result.failures),
            "errors": errors,
            "tokens": [f.token for f in result.failures[:10]],
            "wall_time": time.perf_counter() - started,
            "example": example,
        }

    # --------------------------------------------------------- controller
    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self.is_worker:
            return
        for key, payload in report.user_properties:
            if key == KEY and isinstance(payload, dict):
                cell = self.cells.setdefault((payload["cell"], payload["mode"]), {"parts": []})
                cell["parts"].append(payload)

    def _cells(self) -> list[Cell]:
        built = []
        for (name, mode), cell in self.cells.items():
            parts = sorted(cell["parts"], key=lambda p: (p["index"], p["repetition"]))
            c = Cell(name, "-", mode, runs=0, failures=0)
            for p in parts:
                c.runs += int(p["runs"])
                c.failures += int(p["failures"])
                c.wall_time += float(p["wall_time"])
                c.tokens = (c.tokens + list(p["tokens"]))[:10]
                for error, n in p["errors"].items():
                    c.errors[error] = c.errors.get(error, 0) + int(n)
                if c.example is None and p["example"] is not None:
                    c.example = p["example"]
            built.append((parts[0]["index"], c))
        return [c for _, c in sorted(built, key=lambda pair: pair[0])]

    def _meta(self, exitstatus: int) -> dict[str, Any]:
        import platform
        import sqlite3

        import harness

        option = self.config.option
        workers = getattr(option, "numprocesses", None) or 0
        args = self.config.invocation_params.args
        return {
            "command": " ".join(["pytest", *args]),
            "seed": self.config.getoption("harness_seed") or 0,
            "runs": self.runs,
            "workers": workers,
            "shard": None,
            "strategy": self.config.getoption("harness_strategy") or "marker",
            "harness": harness.__version__,
            "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version,
            "interrupted": exitstatus == pytest.ExitCode.INTERRUPTED,
            "wall_time": round(time.monotonic() - self.started, 3),
        }

    @pytest.hookimpl
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.is_worker:
            return
        report = Report(cells=self._cells(), meta=self._meta(exitstatus))
        self.paths = write_reports(report, self.out)
        self.report = report

    @pytest.hookimpl
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.is_worker or not self.paths:
            return
        from ._summary import summary

        tr = terminalreporter
        tr.section("harness stress")
        for line in summary(self.report.cells).splitlines():
            tr.write_line(line)
        tr.write_line("")
        tr.write_line(
            "measured failures do not fail this session; judge the rates with "
            f"'harness gate {self.paths['json']} --max-rate R'"
        )
        for kind, path in self.paths.items():
            tr.write_line(f"{kind:<8} {path}")
