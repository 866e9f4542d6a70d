"""Running one chunk of a stress run, in a pytest-xdist worker, one run at a time.

A *real* chunk is ``k`` calls of ``scenario.run_real(variant, seed=...)``;
each run is reported as it starts and as it ends (:mod:`._xdist` events), a
failing one with its error, message, short traceback, seed and the command
that re-runs it (``harness replay real:NAME/STORE#SEED``). A *sim* chunk is
one ``scenario.explore(variant, schedules=k, stop_on_first=False,
shrink=False)``: schedules are reported in small batches as they end (pass
or fail), and the failing schedules' errors and tokens when the chunk ends.

Invariants:

* the result of a run depends only on its cell, its index (its seed) and on
  what the code under test does — never on the worker;
* every run is armed on the worker's :class:`~._watchdog.Watchdog` for the
  per-run timeout: a run that does not end in time is killed with its
  worker, from outside (the controller records it as timed out);
* nothing here decides how a run *ended* when its worker dies — the
  controller does, from the events it received.

Test-only hooks (the tests of crash, hang and signal handling use them):
``HARNESS_STRESS_TEST_HOOK`` is a comma-separated list of ``ACTION:CELL@RUN``
(``CELL`` is ``name/store/mode``); when run ``RUN`` of that cell starts,
ACTION ``crash`` exits the worker (``os._exit(1)``), ``segv`` kills it with
SIGSEGV, ``hang`` busy-loops in Python, ``chang`` runs a runaway recursive
SQLite query (a hang in C code), and ``SIGTERM``/``SIGINT``/``SIGHUP`` send
that signal to the controller.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any

from ._spec import Chunk, Spec, derive_seed, real_seed
from ._tracebacks import describe
from ._watchdog import Watchdog

HOOK_ENV = "HARNESS_STRESS_TEST_HOOK"
SIM_BATCH = 10
"""Schedules per progress event (at most; a batch is also sent after a second)."""
SIM_BATCH_SECONDS = 1.0
SIM_SINGLE = 20
"""The first schedules of an exploration are reported one by one (a crash early in a
chunk then costs exactly its schedule; later, at most a batch goes unreported)."""


def batch_due(ran: int, pending: int, since: float) -> bool:
    """Whether the schedules ``pending`` (of ``ran``) should be reported now."""
    return ran <= SIM_SINGLE or pending >= SIM_BATCH or since >= SIM_BATCH_SECONDS


Emit = Callable[[dict[str, Any]], None]


def test_hooks() -> dict[tuple[str, int], str]:
    """``{(cell id, run): action}`` from ``HARNESS_STRESS_TEST_HOOK``."""
    hooks: dict[tuple[str, int], str] = {}
    for entry in os.environ.get(HOOK_ENV, "").split(","):
        action, _, target = entry.strip().partition(":")
        cell, _, run = target.rpartition("@")
        if action and cell and run.isdigit():
            hooks[(cell, int(run))] = action
    return hooks


def _fire(action: str, spec: Spec) -> None:
    """Do what a test hook asks (see the module docstring)."""
    if action == "crash":
        os._exit(1)
    if action == "segv":
        os.kill(os.getpid(), signal.SIGSEGV)
    if action == "hang":
        while True:
            pass
    if action == "chang":
        runaway = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
        sqlite3.connect(":memory:").execute(runaway + "SELECT count(*) FROM c").fetchone()
    if action in ("SIGTERM", "SIGINT", "SIGHUP"):
        os.kill(spec.controller_pid, signal.Signals[action])


def real_command(label: str, seed: int) -> str:
    return f"harness replay real:{label}#{seed}"


def run_chunk(chunk: Chunk, spec: Spec, emit: Emit, watchdog: Watchdog) -> None:
    """Run every run of ``chunk``, reporting each through ``emit``; never raises for a run."""
    started = time.perf_counter()
    emit({"t": "begin", "chunk": chunk.id, "pid": os.getpid()})
    hooks = {run: action for (cell, run), action in test_hooks().items() if cell == chunk.cell_id}
    done: dict[str, Any] = {"t": "done", "chunk": chunk.id, "failures": [], "coverage": None}
    try:
        if chunk.mode == "sim":
            _run_sim(chunk, spec, emit, watchdog, hooks, done)
        else:
            _run_real(chunk, spec, emit, watchdog, hooks)
    finally:
        watchdog.disarm()
        done["wall"] = time.perf_counter() - started
        emit(done)


def _run_real(
    chunk: Chunk, spec: Spec, emit: Emit, watchdog: Watchdog, hooks: dict[int, str]
) -> None:
    from harness import scenarios

    scenario = scenarios.get(chunk.name)
    label = scenario.label(chunk.store)
    threads = set(threading.enumerate())
    for run in chunk.run_indices():
        seed = real_seed(spec.seed, chunk.name, chunk.store, run)
        emit({"t": "start", "chunk": chunk.id, "run": run})
        watchdog.arm(spec.timeout)
        detail: dict[str, Any] | None = None
        try:
            if run in hooks:
                _fire(hooks[run], spec)
            scenario.run_real(chunk.store, seed=seed)
        except Exception as exc:  # any exception the workload raises is this run failing
            detail = {**describe(exc), "seed": seed, "command": real_command(label, seed)}
        finally:
            watchdog.disarm()
        outcome = "passed" if detail is None else "failed"
        emit({"t": "end", "chunk": chunk.id, "run": run, "outcome": outcome, "detail": detail})
        _stop_leaked_connections(threads)


class _Batches:
    """explore()'s progress callback: batch schedule outcomes, re-arm the watchdog, fire hooks."""

    def __init__(
        self, chunk: Chunk, first: int, spec: Spec, emit: Emit, watchdog: Watchdog,
        hooks: dict[int, str],
    ) -> None:  # fmt: skip
        self.chunk, self.first, self.spec = chunk, first, spec
        self.emit, self.watchdog, self.hooks = emit, watchdog, hooks
        self.ran = self.failing = 0
        self.pending = ""
        self.sent_at = time.monotonic()

    def begin(self) -> None:
        self.watchdog.arm(self.spec.timeout)
        if self.first in self.hooks:
            _fire(self.hooks[self.first], self.spec)

    def __call__(self, ran: int, failing: int) -> None:
        self.pending += "F" if failing > self.failing else "P"
        self.ran, self.failing = ran, failing
        now = time.monotonic()
        if batch_due(ran, len(self.pending), now - self.sent_at):
            self.flush()
        self.watchdog.arm(self.spec.timeout)
        upcoming = self.first + ran
        if upcoming in self.hooks:
            self.flush()
            _fire(self.hooks[upcoming], self.spec)

    def flush(self) -> None:
        if self.pending:
            start = self.first + self.ran - len(self.pending)
            self.emit(
                {"t": "sim", "chunk": self.chunk.id, "first": start, "outcomes": self.pending}
            )
            self.pending = ""
        self.sent_at = time.monotonic()


def _run_sim(
    chunk: Chunk,
    spec: Spec,
    emit: Emit,
    watchdog: Watchdog,
    hooks: dict[int, str],
    done: dict[str, Any],
) -> None:
    import harness
    from harness import scenarios

    scenario = scenarios.get(chunk.name)
    first, remaining, seed, part = chunk.start, chunk.runs, chunk.explore_seed(), 0
    distinct = 0
    while remaining > 0:
        batches = _Batches(chunk, first, spec, emit, watchdog, hooks)
        batches.begin()
        try:
            explored = scenario.explore(
                chunk.store,
                schedules=remaining,
                seed=seed,
                strategy=spec.strategy,
                stop_on_first=False,
                shrink=False,
                progress=batches,
                workers=1,  # the stress runner's workers are the parallelism
            )
        except harness.HarnessError as exc:
            # A failure that did not replay identically (NondeterminismError) ends explore():
            # its schedule is a failing run; the chunk goes on with a fresh exploration.
            batches.flush()
            ran = max(batches.ran, 1)
            detail = {**describe(exc), "token": None}
            done["failures"].append([first + ran - 1, detail])
            first, remaining = first + ran, remaining - ran
            part += 1
            seed = derive_seed(chunk.explore_seed(), "after-error", part)
            continue
        batches.flush()
        distinct += explored.distinct_schedules
        for failure in explored.failures:
            detail = {**describe(failure.error), "token": failure.token}
            done["failures"].append([first + failure.schedule, detail])
        remaining = 0
    done["coverage"] = {"distinct": distinct, "strategy": spec.strategy}


def _stop_leaked_connections(before: set[threading.Thread]) -> None:
    """Stop the worker threads of aiosqlite connections a run left open.

    aiosqlite's per-connection thread is not a daemon and waits for work until
    the connection is closed: a run that leaks a connection would keep the
    thread (and its SQLite handle) for the rest of the worker's life and hold
    the worker's exit. Sending it aiosqlite's stop sentinel ends it, as
    ``close()`` would have. Best effort: anything unexpected is left alone.
    """
    try:
        from aiosqlite import core
    except ImportError:  # pragma: no cover
        return
    sentinel = getattr(core, "_STOP_RUNNING_SENTINEL", None)
    if sentinel is None:  # pragma: no cover - another aiosqlite
        return
    for thread in threading.enumerate():
        if thread in before or not thread.is_alive():
            continue
        target = getattr(thread, "_target", None)
        args = getattr(thread, "_args", ())
        if getattr(target, "__name__", "") == "_connection_worker_thread" and args:
            with contextlib.suppress(Exception):
                args[0].put((None, lambda: sentinel))
