"""Running one chunk of a stress run, in a pytest-xdist worker.

A *sim* chunk is one ``scenario.explore(variant, schedules=k, seed=<chunk
seed>, stop_on_first=False, shrink=False)``: every schedule is a run, every
failing schedule a failure whose (unshrunk) token is kept. A *real* chunk is
``k`` calls of ``scenario.run_real(variant, seed=...)``; a failing run is
named by the token-like id ``real:NAME/VARIANT#SEED``.

Invariants:

* the result of a chunk depends only on the chunk (its cell, index and seed)
  and on what the code under test does — never on the worker;
* a run that exceeds the per-run timeout counts as a run *and* a failure
  (a hang is a flake a gate must see) and in ``timed_out``; the chunk goes on
  with its next run. The timeout is a ``SIGALRM`` timer, so it needs the
  worker's main thread (pytest-xdist runs items there); elsewhere runs are
  not timed. If the interrupted run does not unwind within a grace period
  (a hang that ignores cancellation), the worker exits and the chunk is
  recorded as crashed by the controller;
* stopping is cooperative: workers ignore SIGINT (:mod:`._session`); on
  Ctrl-C the controller creates the spec's *stop file*, and a chunk that
  sees it (before each run) returns the runs completed so far, marked
  ``interrupted`` — so the runs in flight finish and reach the report.

Test-only hooks (used by the tests of crash, hang and Ctrl-C handling):
``HARNESS_STRESS_TEST_HOOK`` is a comma-separated list of ``ACTION:CHUNK-ID``
with ACTION ``crash`` (``os._exit(1)`` when the chunk starts), ``hang`` (the
chunk's first run sleeps until its timeout) or ``interrupt`` (send SIGINT to
the controller when the chunk starts).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from dataclasses import asdict, dataclass, field
from types import FrameType, TracebackType
from typing import Any

from ._spec import Chunk, Spec, derive_seed

HOOK_ENV = "HARNESS_STRESS_TEST_HOOK"
HUNG_EXIT = 3
"""Exit status of a worker whose timed-out run never unwound."""
TIMEOUT_ERROR = "Timeout"
"""The ``errors`` key of runs that exceeded the per-run timeout."""


class RunTimeout(KeyboardInterrupt):
    """Raised by the timer in the run it interrupts.

    A ``KeyboardInterrupt`` so that asyncio propagates it out of
    ``asyncio.run`` (and cancels the run's tasks) instead of storing it in
    whichever task happened to be running; caught by this module only.
    """


@dataclass
class ChunkResult:
    """What a chunk measured; travels to the controller as a plain dict."""

    chunk: str
    runs: int = 0
    failures: int = 0
    tokens: list[str] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    timed_out: int = 0
    crashed: int = 0
    wall_time: float = 0.0
    interrupted: bool = False
    internal: str = ""

    def fail(self, error: str, token: str | None) -> None:
        self.failures += 1
        self.errors[error] = self.errors.get(error, 0) + 1
        if token is not None and len(self.tokens) < 10:
            self.tokens.append(token)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Deadline:
    """A per-run wall-clock timer (``SIGALRM``); a no-op off the main thread."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.usable = hasattr(signal, "setitimer") and (
            threading.current_thread() is threading.main_thread()
        )
        self.fired = 0
        self._previous: Any = None

    def __enter__(self) -> Deadline:
        self.fired = 0
        if self.usable:
            self._previous = signal.signal(signal.SIGALRM, self._fire)
            signal.setitimer(signal.ITIMER_REAL, self.seconds)
        return self

    def rearm(self) -> None:
        """Start the next run's full timeout (between the runs of one explore call)."""
        if self.usable and not self.fired:
            signal.setitimer(signal.ITIMER_REAL, self.seconds)

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.usable:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self._previous)

    def _fire(self, signum: int, frame: FrameType | None) -> None:
        self.fired += 1
        if self.fired > 1:  # the interrupted run did not unwind within the grace period
            os._exit(HUNG_EXIT)
        signal.setitimer(signal.ITIMER_REAL, max(5.0, self.seconds))
        raise RunTimeout(f"run exceeded {self.seconds:g} s")


def _hooks(chunk: Chunk) -> set[str]:
    actions = set()
    for entry in os.environ.get(HOOK_ENV, "").split(","):
        action, _, target = entry.strip().partition(":")
        if target == chunk.id:
            actions.add(action)
    return actions


class _Stop(Exception):
    """The controller asked to stop (its stop file exists)."""


def stop_requested(spec: Spec) -> bool:
    return bool(spec.stop_file) and os.path.exists(spec.stop_file)


def run_chunk(chunk: Chunk, spec: Spec) -> ChunkResult:
    """Run every run of ``chunk``; never raises for a failing or hanging run."""
    hooks = _hooks(chunk)
    if "crash" in hooks:
        os._exit(1)
    if "interrupt" in hooks:
        os.kill(spec.controller_pid, signal.SIGINT)
    result = ChunkResult(chunk.id)
    started = time.perf_counter()
    try:
        if chunk.mode == "sim":
            _run_sim(chunk, spec, result, "hang" in hooks)
        else:
            _run_real(chunk, spec, result, "hang" in hooks)
    except (_Stop, KeyboardInterrupt):  # a RunTimeout never leaves its run
        result.interrupted = True
    finally:
        result.wall_time = time.perf_counter() - started
    return result


def _run_real(chunk: Chunk, spec: Spec, result: ChunkResult, hang: bool) -> None:
    from harness import scenarios

    scenario = scenarios.get(chunk.name)
    label = scenario.label(chunk.store)
    threads = set(threading.enumerate())
    for i in range(chunk.runs):
        if stop_requested(spec):
            raise _Stop
        seed = chunk.real_seed(spec.seed, chunk.start + i)
        token = f"real:{label}#{seed}"
        try:
            with Deadline(spec.timeout):
                if hang and i == 0:
                    time.sleep(10**6)
                scenario.run_real(chunk.store, seed=seed)
        except RunTimeout:
            result.timed_out += 1
            result.fail(TIMEOUT_ERROR, token)
        except Exception as exc:  # any exception the workload raises is this run failing
            result.fail(type(exc).__name__, token)
        result.runs += 1
        _stop_leaked_connections(threads)


class _Watch:
    """explore()'s progress callback for one part of a sim chunk.

    Keeps the counts explore() reported (so a timeout or a stop loses no
    count), restarts the per-run timer between schedules, honours the stop
    file and the ``hang`` test hook.
    """

    def __init__(self, spec: Spec, deadline: Deadline, schedules: int, hang: bool) -> None:
        self.spec = spec
        self.deadline = deadline
        self.schedules = schedules
        self.hang = hang
        self.ran = self.failing = 0

    def __call__(self, ran: int, failing: int) -> None:
        self.ran, self.failing = ran, failing
        if ran < self.schedules and stop_requested(self.spec):
            raise _Stop
        self.deadline.rearm()
        if self.hang and ran == 1:
            time.sleep(10**6)


def _run_sim(chunk: Chunk, spec: Spec, result: ChunkResult, hang: bool) -> None:
    import harness
    from harness import scenarios

    scenario = scenarios.get(chunk.name)
    remaining, seed, part = chunk.runs, chunk.seed, 0
    while remaining > 0:
        if stop_requested(spec):
            raise _Stop
        deadline = Deadline(spec.timeout)
        watch = _Watch(spec, deadline, remaining, hang and part == 0)
        try:
            with deadline:
                explored = scenario.explore(
                    chunk.store,
                    schedules=remaining,
                    seed=seed,
                    strategy=spec.strategy,
                    stop_on_first=False,
                    shrink=False,
                    progress=watch,
                )
        except RunTimeout:
            # the schedule after the last reported one hung; its predecessors' failures
            # are counted, their tokens are lost with the interrupted explore() call
            done = min(watch.ran + 1, remaining)
            result.runs += done
            result.failures += watch.failing
            if watch.ran < remaining:  # else every schedule had finished: nothing hung
                result.timed_out += 1
                result.fail(TIMEOUT_ERROR, None)
            remaining -= done
            part += 1
            seed = derive_seed(chunk.seed, "resume", part)
            continue
        except (_Stop, KeyboardInterrupt):
            # counted from explore's progress; the tokens of the interrupted call are lost
            result.runs += watch.ran
            result.failures += watch.failing
            raise
        except harness.HarnessError as exc:  # e.g. NondeterminismError: not a measurement
            name = type(exc).__name__
            result.internal = f"{name}: {' '.join(str(exc).split())[:300]}"
            result.errors[name] = result.errors.get(name, 0) + 1
            result.crashed += remaining
            return
        result.runs += explored.schedules_run
        for failure in explored.failures:
            result.fail(type(failure.error).__name__, failure.token)
        remaining = 0


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
