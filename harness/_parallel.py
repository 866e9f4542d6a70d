"""Exploration on several processes, finding exactly what one process would.

A strategy that declares ``parallel_safe`` (Random, PCT, the portfolio) makes
each schedule a function of its seed alone, so schedule ``i`` is the same
schedule in any process. :func:`run_schedules` forks ``workers`` children;
child ``w`` runs the schedules ``w, w + workers, w + 2·workers, …`` (offset by
the first index) in order
and reports, for each, whether it passed, failed or raised, and a fingerprint
of its decisions (for the count of distinct schedules), a batch at a time. The parent then
*re-runs* itself every schedule it reports as failing (or raising) — which
is deterministic — and confirms and shrinks it exactly as a serial run
would, so failures, tokens and errors are the serial run's.

With ``stop_on_first`` a shared number holds the smallest failing index seen
so far; a child stops once its next index is past it. Every index below the
final one has run (each child runs its indices in increasing order and the
bound only ever decreases), so "the first failure by schedule index" is the
same as serially.

Children are ``os.fork()``ed — the body, which is often a closure, never has
to be pickled — and leave with ``os._exit``, running no exit handler of the
parent's (pytest's, for instance). Where ``fork`` does not exist, exploration
runs on one process.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import pickle
import signal
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass

from ._run import Program, RunRecord
from ._run_config import RunConfig
from ._session import Session
from .strategies import Strategy

OK, FAILED, RAISED = "ok", "failed", "raised"
MIN_PER_WORKER = 32
"""Fewer schedules than this per worker are not worth a process."""


@dataclass(frozen=True)
class Outcome:
    """What one schedule did, as a child reports it."""

    index: int
    kind: str  # OK, FAILED or RAISED
    fingerprint: int  # hash of its deviations (distinct schedules)


def cpus() -> int:
    """The CPUs this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def choose_workers(workers: int | None, schedules: int, strategy: Strategy) -> int:
    """How many processes to explore on (``None``: automatic; see the module docstring).

    Automatic is every CPU available — one inside a pytest-xdist worker, which
    is already one of several processes, and one in a process that runs other
    threads (an execnet gateway, a watchdog): a fork copies only the calling
    thread, and any lock another thread holds stays held in the child — and
    never more than one per
    :data:`MIN_PER_WORKER` schedules. A strategy that is not ``parallel_safe``
    (exhaustive search, a user's stateful strategy) runs on one process.
    """
    if not getattr(strategy, "parallel_safe", False) or not hasattr(os, "fork"):
        return 1
    if workers is None:
        if os.environ.get("PYTEST_XDIST_WORKER") or threading.active_count() > 1:
            return 1  # already one of several processes; or forking would copy held locks
        workers = cpus()
    return max(1, min(workers, schedules // MIN_PER_WORKER))


def run_schedules(
    config: RunConfig,
    label: str,
    program: Program,
    strategy: Strategy,
    seeds: Callable[[int], int],
    indices: range,
    workers: int,
    stop_on_first: bool,
    progress: Callable[[int, int], None] | None,
) -> list[Outcome]:
    """Run the schedules ``indices`` on ``workers`` forked processes; outcomes by index."""
    stop_at = multiprocessing.get_context("fork").Value("q", indices.stop, lock=True)
    pipes = []
    children = []
    for w in range(workers):
        reader, writer = multiprocessing.Pipe(duplex=False)
        with warnings.catch_warnings():  # 3.12+ warns about fork in a threaded process
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:  # the child
            reader.close()
            code = 0
            try:
                _child(
                    config,
                    label,
                    program,
                    strategy,
                    seeds,
                    range(indices.start + w, indices.stop, workers),
                    stop_at if stop_on_first else None,
                    writer,
                )
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        writer.close()
        pipes.append(reader)
        children.append(pid)
    outcomes: list[Outcome] = []
    try:
        _collect(pipes, outcomes, progress)
    except BaseException:
        for pid in children:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        raise
    finally:
        for pid in children:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
    outcomes.sort(key=lambda o: o.index)
    if stop_on_first:
        first = next((o.index for o in outcomes if o.kind != OK), None)
        if first is not None:
            outcomes = [o for o in outcomes if o.index <= first]
    return outcomes


def _child(
    config: RunConfig,
    label: str,
    program: Program,
    strategy: Strategy,
    seeds: Callable[[int], int],
    indices: range,
    stop_at: object | None,
    writer: multiprocessing.connection.Connection,
) -> None:
    bound = stop_at.get_obj() if stop_at is not None else None  # type: ignore[attr-defined]
    batch: list[Outcome] = []
    with Session(config, label) as session:
        for index in indices:
            # read without the lock: one aligned word, and it only ever decreases
            if bound is not None and index > bound.value:
                break
            try:
                record = session.run(program, strategy, seeds(index))
            except BaseException:  # a harness error or an outcome: the parent re-runs it
                kind, mark = RAISED, 0
            else:
                if record is None:  # a bounded strategy ran out (not parallel-safe ones)
                    break
                kind = OK if record.error is None else FAILED
                mark = fingerprint(record)
            if kind != OK and stop_at is not None:
                with stop_at.get_lock():  # type: ignore[attr-defined]
                    stop_at.value = min(stop_at.value, index)  # type: ignore[attr-defined]
            batch.append(Outcome(index, kind, mark))
            if len(batch) >= _BATCH or kind != OK:  # failures at once: the parent re-runs them
                writer.send_bytes(pickle.dumps(batch))
                batch = []
    if batch:
        writer.send_bytes(pickle.dumps(batch))
    writer.close()


_BATCH = 16
"""Outcomes a child sends at a time: one pipe write per schedule costs the small bodies."""


def fingerprint(record: RunRecord) -> int:
    """What makes two schedules the same schedule: their deviations (a hash, same in forks)."""
    return hash(tuple(record.semantic))


def _collect(
    pipes: list[multiprocessing.connection.Connection],
    outcomes: list[Outcome],
    progress: Callable[[int, int], None] | None,
) -> None:
    open_pipes = list(pipes)
    failing = 0
    while open_pipes:
        for ready in multiprocessing.connection.wait(open_pipes):
            assert isinstance(ready, multiprocessing.connection.Connection)
            try:
                batch: list[Outcome] = pickle.loads(ready.recv_bytes())
            except EOFError:
                open_pipes.remove(ready)
                continue
            outcomes.extend(batch)
            failing += sum(outcome.kind != OK for outcome in batch)
            if progress is not None:
                progress(len(outcomes), failing)
