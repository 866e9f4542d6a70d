"""The SQLite side of one schedule: its databases, workers and real connections.

Two entry points reach it while a schedule runs (``harness._patches`` routes
them here):

* :meth:`SqliteLayer.start_worker` — aiosqlite starts a connection's worker
  thread; the connection gets a simulated worker instead (``_worker``);
* :meth:`SqliteLayer.open_real` — ``sqlite3.connect`` is called, by an
  aiosqlite connector job or by the body itself (migrations, Alembic, a sync
  engine); it opens the schedule's private database (``_database``) with
  harness's hooks (``_real``). A plain connection in the body runs its
  statements synchronously, as it blocks a real loop; it is not scheduled.

At a crash and at the end of the schedule :meth:`close_all` rolls back and
closes every real connection, as the OS does for a dead process; the
aiosqlite ``Connection`` objects themselves are not kept (a connection the
body drops is garbage, and aiosqlite's ``ResourceWarning`` fires as usual).
"""

from __future__ import annotations

import _sqlite3
import itertools
import os
import queue
import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._thirdparty import aiosqlite as compat
from ._database import Database, Databases
from ._gone import sweep_graveyard
from ._real import RealConnection
from ._worker import JobQueue, Worker, worker_of

if TYPE_CHECKING:
    from .._world import World

_hook_keys = itertools.count(1)
_workdir_prefixes = itertools.count(1)
_CONNECT_PARAMS = (
    "timeout",
    "detect_types",
    "isolation_level",
    "check_same_thread",
    "factory",
    "cached_statements",
    "uri",
)
_original_connect: Callable[..., sqlite3.Connection] = _sqlite3.connect  # never patched


def display_name(database: str | None) -> str:
    """A connection's name in timelines, before its ``#N``: the file's base name."""
    if database is None:
        return "connection"
    return os.path.basename(database.split("?")[0]) or database or ":memory:"


def _drain(jobs: Any) -> list[Any]:
    items = []
    while True:
        try:
            items.append(jobs.get_nowait())
        except (queue.Empty, AttributeError):
            return items


class SqliteLayer:
    """The fake aiosqlite of one schedule (see the module docstring)."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.databases = Databases(world.workdir, f"{next(_workdir_prefixes)}-")
        self.workers: list[Worker] = []
        self.reals: list[RealConnection] = []
        self.opening: Worker | None = None  # the worker whose connector job is running
        world.before_idle.append(self._wake_free_waiters)

    # ------------------------------------------------------------- workers
    def start_worker(self, conn: Any) -> None:
        """aiosqlite starts ``conn``'s worker thread: simulate it instead."""
        jobs = compat.job_queue(conn)
        if isinstance(jobs, JobQueue):
            old = jobs.worker
            if old.world is self.world and old.generation == self.world.generation:
                raise RuntimeError("threads can only be started once")  # as threading says
            raise old._stale(
                self.world,
                "an earlier schedule and awaited again in this one"
                if old.world is not self.world
                else "the process that crashed and awaited again after it",
            )
        connector = compat.connector_of(conn)
        database = compat.database_of(connector)
        worker = Worker(
            self, conn, self.world.unique_name(display_name(database)), connector, database
        )
        pending = _drain(jobs)
        compat.set_job_queue(conn, JobQueue(worker))
        self.workers.append(worker)
        for item in pending:
            worker.put(item)

    def wake_waiters(self, db: Database, by: str) -> None:
        waiters, db.waiters = db.waiters, []
        for op in waiters:
            self.world.wake(op, f"{by} released its lock")

    def _wake_free_waiters(self) -> bool:
        """Before virtual time jumps: retry statements a plain connection stopped blocking.

        A plain ``sqlite3`` connection in the body takes and releases locks without
        a job harness sees, so a statement waiting for one of its locks is not woken
        when it commits. Here, when nothing else can happen, the waiters of a
        database that such a connection uses retry if every connection still
        holding a lock on it is itself waiting (so at most the one waiting COMMIT
        holds one, and its retry can proceed).
        """
        woke = False
        for db in {id(rc.db): rc.db for rc in self.reals if rc.sync and rc.db is not None}.values():
            if db is None or not db.waiters:
                continue
            waiting = {id(op.worker.real) for op in db.waiters}
            holders = [rc for rc in self.reals if rc.db is db and rc.txn_state() > 0]
            if all(id(rc) in waiting for rc in holders):
                self.wake_waiters(db, "a plain sqlite3 connection")
                woke = True
        return woke

    # ------------------------------------------------------ real connections
    def open_real(
        self, database: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> sqlite3.Connection:
        """``sqlite3.connect(database, *args, **kwargs)`` inside this schedule."""
        if len(args) > len(_CONNECT_PARAMS):
            return _original_connect(database, *args, **kwargs)  # let sqlite3 reject it
        options = dict(zip(_CONNECT_PARAMS, args, strict=False))
        for name in options:
            if name in kwargs:
                raise TypeError(f"connect() got multiple values for argument '{name}'")
        options.update(kwargs)
        timeout = options.pop("timeout", 5.0)
        uri = bool(options.pop("uri", False))
        if type(database) is str:  # the common case, without the ABC check below
            name = database
        elif isinstance(database, bytes):
            name = os.fsdecode(database)
        elif isinstance(database, str | os.PathLike):
            name = os.fspath(database)
            if isinstance(name, bytes):
                name = os.fsdecode(name)
        else:
            return _original_connect(database, *args, **kwargs)  # sqlite3's own TypeError
        try:
            timeout_ms = max(0, int(float(timeout) * 1000))
        except (TypeError, ValueError):
            return _original_connect(database, *args, **kwargs)
        target = self.databases.resolve(str(name), uri)
        real = _original_connect(target.database, timeout=0, uri=target.uri, **options)
        try:
            rc = RealConnection(real, target.db, timeout_ms, next(_hook_keys))
        except BaseException:
            real.close()
            raise
        rc.use_memory_journal()
        self.reals.append(rc)
        opening = self.opening
        if opening is not None and opening.real is None:
            opening.attach(rc)
        else:
            rc.sync = True  # the body's own connection: its statements run synchronously
        return real

    def real_of(self, conn: Any) -> RealConnection | None:
        worker = worker_of(conn)
        return worker.real if worker is not None else None

    # ----------------------------------------------------------- the end
    def close_all(self) -> None:
        for worker in self.workers:
            worker.hard_close()
        for rc in self.reals:
            rc.hard_close()
        self.reals = []
        for db in self.databases.by_key.values():
            db.waiters.clear()

    def cleanup(self) -> None:
        self.close_all()
        for worker in self.workers:
            worker.forget_schedule()
        self.workers = []
        self.databases.remove_files()
        sweep_graveyard()


def layer_of(world: World) -> SqliteLayer:
    """The sqlite layer of a world, created on first use."""
    layer = world.extensions.get(_KEY)
    if layer is None:
        layer = world.extensions[_KEY] = SqliteLayer(world)
    return layer


def clean_up(world: World) -> None:
    """The schedule ended: close and delete what its layer opened (a body that opened no
    database has no layer, and nothing is created for it here)."""
    layer = world.extensions.get(_KEY)
    if layer is not None:
        layer.cleanup()


_KEY = "sqlite"  # the layer's entry in World.extensions
