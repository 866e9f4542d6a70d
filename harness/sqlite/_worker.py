"""The simulated worker thread of an ``aiosqlite.Connection``.

aiosqlite runs one thread per connection: it takes ``(future, function)``
jobs from the connection's ``_tx`` queue in order, runs each on the sqlite3
connection and hands the result back to the loop with
``call_soon_threadsafe``. Inside a simulation that thread never starts. When
aiosqlite starts it (``Connection.__await__``), harness replaces ``_tx`` by a
:class:`JobQueue` and gives the connection a :class:`Worker`: every ``put``
on the queue — from aiosqlite's own ``_execute``/``_connect``/``stop``, or
from a library that reaches into ``_tx`` as SQLAlchemy's adapter does —
submits a :class:`JobOp` to the world, and the strategy chooses when the
worker executes it (on the real connection, on the simulation's thread) and
when its result reaches the loop (``call_soon``).

So everything else is aiosqlite's own code, in every supported version (see
``harness._thirdparty.aiosqlite`` for what differs between 0.19 and 0.22):
``_running``, ``_connection``, ``stop()``, ``close()``, the ``await`` and
``async with`` forms, and what happens to jobs put after the worker stopped
(they never run, as on a real stopped thread).

Locking: a statement that meets a lock held by another connection, where
SQLite consulted the busy handler (see ``_capi``), *waits* in virtual time: it
blocks its worker (SQLite keeps the connection busy while its handler waits),
retries when another connection's transaction state drops, and fails with
SQLite's own ``database is locked`` when its busy timeout expires. Where
SQLite did not consult the handler (a read transaction upgrading to write,
``SQLITE_BUSY_SNAPSHOT``), the error is delivered at once.

A connection used where it does not belong — in a later schedule (state kept
in a module-level engine or cache), or by the process after a crash — raises
:class:`~harness.HarnessError` naming it and the remedy; the error is also
recorded, so exploration stops with it even if the body swallows it.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._context import state as _state
from .._errors import HarnessError
from .._ops import PENDING, Channel
from .._thirdparty import aiosqlite as compat
from ._database import Database
from ._gone import bury, closes, stops
from ._job import JobOp
from ._real import RealConnection

if TYPE_CHECKING:
    from .._world import World

_get_ident = threading.get_ident
_REMEDY = (
    "open connections inside the schedule, or dispose of them at its end or start: "
    "explore(..., teardown=...) or setup=..., e.g. "
    "`await engine.dispose()` (README: 'Module-level engines')"
)


class JobQueue:
    """What an aiosqlite connection's ``_tx`` is inside a simulation.

    ``put``/``put_nowait`` hand the job to the simulated worker; ``empty`` and
    ``qsize`` count the jobs it has not taken yet (as the real queue would).
    Only the worker takes jobs: ``get`` is refused.
    """

    __slots__ = ("__weakref__", "_worker", "put_nowait")

    def __init__(self, worker: Worker) -> None:
        self._worker = worker
        self.put_nowait: Callable[[Any], None] = worker.put  # aiosqlite's hot path, direct

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        self._worker.put(item)

    def qsize(self) -> int:
        return self._worker.waiting()

    def empty(self) -> bool:
        return self._worker.waiting() == 0

    def full(self) -> bool:
        return False

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        raise RuntimeError("harness: only the simulated aiosqlite worker takes jobs from _tx")

    get_nowait = get

    @property
    def worker(self) -> Worker:
        return self._worker


class Worker:
    """The simulated worker thread of one aiosqlite connection (see the module docstring)."""

    def __init__(
        self, layer: Any, conn: Any, name: str, connector: Any, database: str | None
    ) -> None:
        self.layer = layer
        self.world: World | None = layer.world
        self.generation = self.world.generation
        self.name = name
        self.channel = Channel(name, serial=self.world.config.mode == "fifo")
        self._conn = weakref.ref(conn)  # the queue must not keep the connection alive
        self.connector = connector  # compat.connector_of(conn); database: what it opens
        self.sentinel = compat.stop_sentinel_of(conn)
        self.is_file = database not in (None, ":memory:", "") or bool(
            database and database.startswith("file:")
        )
        self.real: RealConnection | None = None
        self.stopped = False
        self.thread_id = 0x7F0000000000 + self.world.new_id()  # a stable stand-in thread id

    def __repr__(self) -> str:
        return f"<harness worker {self.name}>"

    def connection(self) -> Any:
        return self._conn()

    def waiting(self) -> int:
        """Jobs submitted and not yet taken (executed) by the worker."""
        return sum(1 for op in self.channel.ops if op.state is PENDING)

    # ------------------------------------------------------------ jobs in
    def put(self, item: Any) -> None:
        world = _state.world  # current_world(), inline: once per statement
        if world is not None and _get_ident() != _state.thread:
            world = None
        if (
            world is self.world
            and world is not None
            and self.generation == world.generation
            and world.loop is not None
            and not self.stopped
        ):
            world.submit(JobOp(self, item))  # the common case: this schedule's live worker
            return
        mine = self.world if world is self.world else None  # this worker's schedule, running
        stale = mine is None or self.generation != mine.generation
        if stale or self.dead:
            if mine is not None and mine.abandoning:  # a crash is closing the tasks
                if stops(item, self.sentinel):
                    return  # aiosqlite's __del__ stopping a thread that is gone
                mine.check_alive(self.generation)  # their finally blocks stop here
            if closes(item, self.sentinel):  # disposing of what an ended process left
                self._close_gone(world if stale else None, item)
                return
        if stale:
            if world is None:
                where = "a schedule and used outside any"
            elif world is not self.world:
                where = "an earlier schedule and used in this one"
            else:
                where = "the process that crashed and used after it"
            raise self._stale(world, where)
        self._submit(world, item)

    def _submit(self, world: World, item: Any) -> None:
        op = JobOp(self, item)
        if self.stopped:  # a stopped thread takes no jobs: the future never resolves
            world.event(
                world.current_actor(),
                "submit",
                lambda: f"{self.name}: {op.label} (its worker has stopped: it never runs)",
            )
            return
        world.submit(op)

    def _close_gone(self, world: World | None, item: Any) -> None:
        """Close or stop a connection whose process (schedule, incarnation) has ended.

        Its real connection was closed when that process ended, so closing it
        again succeeds at once, as aiosqlite's own worker would report: this
        is what lets ``engine.dispose()`` in a later schedule (``setup=``), or
        after the exploration, forget a module-level engine's connections.
        Any other use of such a connection is an error (:meth:`_stale`).
        """
        if item is self.sentinel:
            return  # 0.20-0.21's stop item: no future to resolve
        future, function = item
        try:
            result = function()  # close on a closed sqlite3 connection: a no-op
        except Exception:
            result = None
        if world is not None:
            what = "stop worker" if compat.is_stop_job(function) else "close"
            world.event(
                world.current_actor(),
                "submit",
                lambda: f"{self.name}: {what} (opened in an ended process: nothing to close)",
            )
        if future is not None and not future.done() and future.get_loop().is_running():
            future.get_loop().call_soon(_resolve, future, result)  # not from __del__ outside

    def _stale(self, world: World | None, where: str) -> HarnessError:
        error = HarnessError(
            f"harness: the aiosqlite connection {self.name} was opened in {where}; "
            f"state that outlives a schedule (a module-level engine, a cached "
            f"connection) cannot be replayed: {_REMEDY}"
        )
        if world is not None:
            world.harness_errors.append(error)
        return error

    # ------------------------------------------------------------- state
    def attach(self, rc: RealConnection) -> None:
        """The connector job opened the worker's real connection."""
        self.real = rc
        rc.belong_to(self.thread_id)
        self.is_file = rc.db is not None and rc.db.path is not None

    def connected(self) -> None:
        """Ops submitted before the connection existed learn whether they write a file."""
        for op in self.channel.ops:
            if isinstance(op, JobOp):
                stmt = op.stmt
                op.write = self.is_file and bool(stmt.write or stmt.commit or stmt.begin_lock)

    def stop(self) -> None:
        self.stopped = True

    def after_job(self, op: JobOp) -> None:
        """Does the worker thread end after this job? (see ``harness._thirdparty.aiosqlite``)"""
        if op.stops or op.value is self.sentinel:
            self.stop()
        elif len(self.channel.ops) <= 1 and self.sentinel is compat.NO_SENTINEL:
            conn = self.connection()
            if conn is not None and not getattr(conn, "_running", True):
                self.stop()  # 0.19: not running, and nothing else queued

    def database(self) -> Database | None:
        return self.real.db if self.real is not None else None

    @property
    def dead(self) -> bool:
        """Its schedule ended, or its process crashed: the thread is gone."""
        world = self.world
        return world is None or self.generation != world.generation or world.loop is None

    def hard_close(self) -> None:
        """Crash or schedule end: the process is gone, and so is this thread."""
        if self.real is not None:
            self.real.hard_close()
        self.stopped = True
        conn = self._conn()
        if conn is not None and compat.looks_open(conn):
            bury(conn)

    def forget_schedule(self) -> None:
        """The schedule ended: drop the references into its world (``world`` is None).

        The schedule's record keeps its timeline, whose operations keep their
        worker; without these references that would keep the whole world (loop,
        tasks, connections) alive, for the cyclic collector to scan again and
        again. A worker without a world is stale everywhere (:meth:`put`).

        Its channel lets go of its operations too: a connection left open is
        kept (``_gone``) until nothing else refers to it, and through its queue,
        this worker and an operation's future (whose loop is the world's) it
        would otherwise refer to itself — every such schedule's world kept for
        the rest of the process. Nothing of a dead worker is taken again.
        """
        self.world = None
        self.layer = None
        self.channel.ops = []
        self.channel.blocked = None


def worker_of(conn: Any) -> Worker | None:
    """The simulated worker of an aiosqlite connection, if it has one."""
    queue = getattr(conn, "_tx", None)
    return queue.worker if isinstance(queue, JobQueue) else None


def _resolve(future: Any, result: Any) -> None:
    if not future.done():
        future.set_result(result)
