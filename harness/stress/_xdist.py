"""Everything the stress runners take from pytest-xdist's and execnet's internals.

Fenced here so the rest of :mod:`harness.stress` uses pytest-xdist only
through its documented hooks and options. Supported: pytest-xdist 3.5 to
3.8 with execnet 2.1 (``tests/test_stress*.py`` exercise every function).

* **Run events.** A worker reports each run as it ends (and when it starts)
  as an extra ``TestReport`` of the running item with ``when ==
  "harness"``, sent through the ``pytest_runtest_logreport`` hook — the path
  pytest-xdist already uses for reports, so it works for local, ``ssh`` and
  ``socket`` workers and, without xdist, in the same process. The codec
  hooks below keep them small on the wire, stamp their arrival time (in
  execnet's receiver thread, so a busy controller does not delay the stamp)
  and keep them out of pytest's terminal counts.
* **Shipping data to workers**: ``node.workerinput`` in
  ``pytest_configure_node`` (pytest-xdist's documented way).
* **Exit status of a dead worker**: the ``subprocess.Popen`` of a local
  (``popen``) gateway, ``gateway._io.popen`` (execnet internal); unknown for
  remote workers.
* **Killing local workers** on an interrupt, a shorter teardown
  (``NodeManager.EXIT_TIMEOUT``), and ignoring commands sent to a worker
  that already died (``WorkerController.sendcommand`` raises ``OSError``
  "cannot send (already closed?)", which pytest-xdist would turn into an
  INTERNALERROR).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable
from typing import Any

import pytest

EVENT_WHEN = "harness"
EVENT_TYPE = "HarnessRunEvent"
EVENT_KEY = "harness_run_event"
RECEIVED = "_received"
"""Payload key the controller adds: ``time.monotonic()`` when the event arrived."""


def send_event(item: pytest.Item, payload: dict[str, Any]) -> None:
    """Report ``payload`` for the running ``item`` to the controller (or this process)."""
    report = pytest.TestReport(
        nodeid=item.nodeid,
        location=item.location,
        keywords={},
        outcome="passed",
        longrepr=None,
        when=EVENT_WHEN,  # type: ignore[arg-type]
        user_properties=[(EVENT_KEY, payload)],
    )
    item.ihook.pytest_runtest_logreport(report=report)


def event_of(report: pytest.TestReport) -> dict[str, Any] | None:
    """The payload of a run event, or ``None`` for any other report."""
    if report.when != EVENT_WHEN:
        return None
    for key, value in report.user_properties:
        if key == EVENT_KEY and isinstance(value, dict):
            value.setdefault(RECEIVED, time.monotonic())
            return value
    return None


class EventCodec:
    """The hooks that carry run events (registered in controllers and workers alike)."""

    @pytest.hookimpl(tryfirst=True)
    def pytest_report_to_serializable(self, report: Any) -> dict[str, Any] | None:
        if getattr(report, "when", None) != EVENT_WHEN:
            return None
        payload = next((v for k, v in report.user_properties if k == EVENT_KEY), None)
        return {
            "$report_type": EVENT_TYPE,
            "nodeid": report.nodeid,
            "location": report.location,
            "payload": payload,
        }

    @pytest.hookimpl(tryfirst=True)
    def pytest_report_from_serializable(self, data: dict[str, Any]) -> Any:
        if data.get("$report_type") != EVENT_TYPE:
            return None
        payload = data.get("payload")
        if isinstance(payload, dict):
            payload[RECEIVED] = time.monotonic()
        path, line, domain = data["location"]
        return pytest.TestReport(
            nodeid=data["nodeid"],
            location=(path, line, domain),
            keywords={},
            outcome="passed",
            longrepr=None,
            when=EVENT_WHEN,  # type: ignore[arg-type]
            user_properties=[(EVENT_KEY, payload)],
        )

    @pytest.hookimpl(tryfirst=True)
    def pytest_report_teststatus(self, report: Any) -> tuple[str, str, str] | None:
        if getattr(report, "when", None) == EVENT_WHEN:
            return "", "", ""
        return None


# ------------------------------------------------------------------ workers
def workerinput(config: pytest.Config) -> dict[str, Any] | None:
    """The data the controller shipped to this worker, or ``None`` in the controller."""
    data = getattr(config, "workerinput", None)
    return data if isinstance(data, dict) else None


def is_crash_report(report: pytest.TestReport) -> bool:
    """pytest-xdist's report for the item a worker was running when it died."""
    return report.when == "???"  # type: ignore[comparison-overlap]


def worker_id(report: pytest.TestReport) -> str:
    node = getattr(report, "node", None)
    gateway = getattr(node, "gateway", None)
    return str(getattr(gateway, "id", "main"))


def node_id(node: Any) -> str:
    return str(getattr(getattr(node, "gateway", None), "id", "?"))


def guard_node(node: Any) -> None:
    """Let commands to a worker that already died vanish instead of ending the session."""
    send: Callable[..., None] = node.sendcommand

    def sendcommand(name: str, **kwargs: object) -> None:
        with contextlib.suppress(OSError):
            send(name, **kwargs)

    node.sendcommand = sendcommand


def exit_status(node: Any) -> int | None:
    """The exit status of a dead local worker (negative: killed by that signal)."""
    popen = getattr(getattr(getattr(node, "gateway", None), "_io", None), "popen", None)
    if popen is None or not getattr(getattr(node, "gateway", None), "spec", None):
        return None
    if not node.gateway.spec.popen:
        return None  # an ssh client's status says nothing certain about the remote worker
    try:
        return int(popen.wait(timeout=2))
    except Exception:
        return None


def describe_exit(status: int | None) -> dict[str, Any] | None:
    """``{"signal": "SIGKILL"}`` or ``{"exit_code": 1}`` (``None``: unknown)."""
    if status is None:
        return None
    if status < 0:
        try:
            return {"signal": signal.Signals(-status).name}
        except ValueError:
            return {"signal": f"signal {-status}"}
    return {"exit_code": status}


def _dsession(config: pytest.Config) -> Any:
    return config.pluginmanager.getplugin("dsession")


def _gateways(config: pytest.Config) -> list[Any]:
    manager = getattr(_dsession(config), "nodemanager", None)
    group = getattr(manager, "group", None)
    return list(group) if group is not None else []


def kill_local_workers(config: pytest.Config) -> int:
    """SIGKILL every local worker process (and ssh client) of this session; how many."""
    killed = 0
    for gateway in _gateways(config):
        popen = getattr(getattr(gateway, "_io", None), "popen", None)
        if popen is None or popen.poll() is not None:
            continue
        with contextlib.suppress(OSError):
            os.kill(popen.pid, signal.SIGKILL)
            killed += 1
    return killed


def quick_teardown(config: pytest.Config, seconds: float = 2.0) -> None:
    """Wait at most ``seconds`` for workers to exit when the session ends."""
    manager = getattr(_dsession(config), "nodemanager", None)
    if manager is not None:
        manager.EXIT_TIMEOUT = seconds


def stop_session(config: pytest.Config, why: str) -> None:
    """Ask the distributed session to stop (as ``--maxfail`` would)."""
    dsession = _dsession(config)
    if dsession is not None and not getattr(dsession, "shouldstop", False):
        dsession.shouldstop = why


def distributing(config: pytest.Config) -> bool:
    """Whether this (controller) session hands its items to pytest-xdist workers."""
    return _dsession(config) is not None or bool(
        config.pluginmanager.hasplugin("dsession")
        or (config.getoption("dist", "no") != "no" and config.getoption("tx", None))
    )


def use_one_worker(config: pytest.Config) -> bool:
    """Make a session that would run in-process use one local pytest-xdist worker.

    Called from ``pytest_configure`` before pytest-xdist's own (``trylast``)
    one reads these options. Returns False when xdist is not available,
    disabled, or the session cannot be distributed (``--pdb``, collect-only).
    """
    if not config.pluginmanager.hasplugin("xdist") or workerinput(config) is not None:
        return False
    option = config.option
    if getattr(option, "dist", "no") != "no" and getattr(option, "tx", None):
        return False  # already distributed
    if getattr(option, "usepdb", False) or getattr(option, "collectonly", False):
        return False
    if getattr(option, "numprocesses", None) == 0:
        return False  # -n 0: the user asked for no workers
    option.numprocesses = 1
    option.tx = ["popen"]
    option.dist = "load"
    return True


def set_max_restarts(config: pytest.Config, restarts: int) -> None:
    """Raise pytest-xdist's replacement budget unless the user set ``--max-worker-restart``."""
    if getattr(config.option, "maxworkerrestart", None) is None:
        config.option.maxworkerrestart = str(restarts)


def guard_replacements(config: pytest.Config, warn: Callable[[str], None]) -> None:
    """A worker that cannot be replaced (a socket server that died with it) is dropped.

    pytest-xdist replaces a crashed worker by connecting to the same gateway
    spec again; for a ``socket=`` gateway whose server process was the worker
    that died, that raises and would end the session with an INTERNALERROR.
    """
    dsession = _dsession(config)
    if dsession is None or getattr(dsession, "_harness_guarded", False):
        return
    clone: Callable[[Any], Any] = dsession._clone_node

    def clone_node(node: Any) -> Any:
        try:
            return clone(node)
        except Exception as exc:
            warn(f"worker {node_id(node)} could not be replaced ({type(exc).__name__}: {exc})")
            return None

    dsession._clone_node = clone_node
    dsession._harness_guarded = True


def drain_reports(config: pytest.Config, wait: float = 1.0) -> list[pytest.TestReport]:
    """Reports that reached the controller but were not processed when the session stopped.

    After an interrupt the session loop stops reading its event queue; the
    workers (killed) had already sent what they measured. This waits up to
    ``wait`` seconds for their channels to close (execnet's receiver threads
    read to the end of each pipe), then takes every test report from the
    queue, in order, so that nothing measured is lost.
    """
    dsession = _dsession(config)
    queue = getattr(dsession, "queue", None)
    if queue is None:
        return []
    deadline = time.monotonic() + wait
    nodes = list(getattr(getattr(dsession, "sched", None), "nodes", []) or [])
    nodes += list(getattr(dsession, "_active_nodes", []) or [])
    for node in nodes:
        channel = getattr(node, "channel", None)
        while channel is not None and not channel.isclosed() and time.monotonic() < deadline:
            time.sleep(0.02)
    reports: list[pytest.TestReport] = []
    while True:
        try:
            name, kwargs = queue.get_nowait()
        except Exception:
            return reports
        report = kwargs.get("rep") if name == "testreport" else None
        if report is not None:
            report.node = kwargs.get("node")
            reports.append(report)
