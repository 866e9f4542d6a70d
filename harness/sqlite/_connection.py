"""The fake aiosqlite connection: aiosqlite's own code, with a simulated worker.

:class:`FakeConnection` *is* an ``aiosqlite.Connection`` (a subclass): every
public method — ``execute`` returning a ``Result`` usable with ``await`` and
``async with``, ``execute_insert``, ``iterdump``, ``backup``, the properties —
is aiosqlite's own code, and cursors are real ``aiosqlite.Cursor`` objects.
Only the bridge to the worker thread is replaced: where aiosqlite puts
``(future, function)`` on its thread's queue, the fake submits a
:class:`SqlOp` to a simulated channel, and the strategy chooses when it
executes (on the real ``sqlite3`` connection, synchronously) and when its
result is delivered (``call_soon``, like aiosqlite's ``call_soon_threadsafe``).

Locking: the real connection is opened with ``timeout=0`` and a busy handler
that only records that SQLite consulted it (see ``_capi``). When it did, the
statement waits for the lock in virtual time — it retries when another
connection's transaction state drops, and fails with SQLite's own
``database is locked`` when its ``busy_timeout`` (``timeout=`` in seconds,
default 5.0 as in ``sqlite3.connect``, or ``PRAGMA busy_timeout``) expires.
When SQLite did not consult the handler (a read transaction upgrading to
write, ``SQLITE_BUSY_SNAPSHOT``), the error is delivered at once.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import sqlite3
import threading
from collections.abc import Callable, Generator, Sized
from typing import TYPE_CHECKING, Any

import aiosqlite

from .._ops import Channel, Op
from .._world import World
from ..faults import fault_error
from ..trace import short
from . import _capi
from ._classify import NOT_SQL, Statement, classify
from ._database import Database, Databases

if TYPE_CHECKING:
    from ..bus import PendingNotify

_SQL_METHODS = frozenset(
    {"execute", "executemany", "executescript", "_execute_insert", "_execute_fetchall"}
)
_IMPLICIT_BEGIN_METHODS = frozenset(
    {"execute", "executemany", "_execute_insert", "_execute_fetchall"}
)
_COMMIT = Statement("COMMIT", False, False, True, False, False, False, False)
_JOURNAL_AS_SQLITE_REPORTS_IT = "SELECT 'delete' AS journal_mode"
_LEGACY = getattr(sqlite3, "LEGACY_TRANSACTION_CONTROL", -1)
_hook_keys = itertools.count(1)
_workdir_prefixes = itertools.count(1)


def _label(method: str, on_cursor: bool, sql: str | None, args: tuple[Any, ...]) -> str:
    prefix = "cursor." if on_cursor else ""
    if sql is not None:
        text = short(sql, 64)
        if method == "executescript":
            return f"{prefix}script: {text}"
        params = args[1] if len(args) > 1 else None
        if method == "executemany":
            size = len(params) if isinstance(params, Sized) else "?"
            return f"{prefix}{text} [{size} parameter sets]"
        if params:
            text += " " + short(repr(tuple(params) if isinstance(params, list) else params), 48)
        return prefix + text
    if method == "commit":
        return "commit()"
    shown = ", ".join(short(repr(a), 20) for a in args if not callable(a))
    return f"{prefix}{method}({shown})"


def _spent(*args: Any, **kwargs: Any) -> None:
    raise RuntimeError("harness: an operation ran twice")


class SqlOp(Op):
    """One call on a fake connection's worker: runs on the real ``sqlite3`` connection."""

    __slots__ = ("args", "conn", "consumed", "fn", "kwargs", "method", "on_cursor", "stmt")

    def __init__(
        self,
        conn: FakeConnection,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        future: asyncio.Future[Any] | None,
        *,
        label: str | None = None,
        barrier: bool = False,
    ) -> None:
        method = getattr(fn, "__name__", "call")
        on_cursor = type(getattr(fn, "__self__", None)) is sqlite3.Cursor
        if method in _SQL_METHODS and args and type(args[0]) is str:
            stmt = classify(args[0])
        elif method == "commit" and not on_cursor:
            stmt = _COMMIT
        else:
            stmt = NOT_SQL
        db = conn._db
        write = (
            (stmt.write or stmt.commit or stmt.begin_lock)
            and db is not None
            and (db.path is not None)
        )
        super().__init__(conn._channel, label, future, barrier=barrier, write=write)
        self.consumed = 0  # executemany: parameter sets SQLite has taken so far
        if method == "executemany" and len(args) > 1:
            args = (args[0], list(args[1]), *args[2:])  # materialised once, resumable
        self.on_cursor = on_cursor
        self.conn = conn
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.method = method
        self.stmt = stmt

    def describe_call(self) -> str:
        args = self.args
        sql = args[0] if self.stmt is not NOT_SQL and self.stmt is not _COMMIT else None
        return _label(self.method, self.on_cursor, sql, args)

    def fault_kinds(self) -> tuple[str, ...]:
        conn = self.conn
        hooks, real, db = conn._hooks, conn._real, conn._db
        if hooks is None or real is None or db is None:
            return ()
        stmt = self.stmt
        state = hooks.txn_state()
        if stmt.commit:
            if state != _capi.TXN_WRITE:
                return ()
            return ("ioerror", "full") if db.wal else ("busy", "ioerror", "full")
        if stmt.write:
            return ("ioerror", "full") if state == _capi.TXN_WRITE else ("busy", "ioerror", "full")
        if stmt.begin_lock and state == _capi.TXN_NONE and not real.in_transaction:
            return ("busy",)
        return ()

    def run(self, fault: str | None) -> bool:
        conn = self.conn
        hooks = conn._hooks
        if hooks is None:  # connect, or a call after the real connection closed
            return self._call_plain()
        db = conn._db
        if fault is None and not self.stmt.special and (db is None or not db.waiters):
            return self._run_plain(conn, hooks)
        watch = db is not None and bool(db.waiters)
        state = hooks.state
        state.reset()
        real = conn._real
        was_open = real is not None and real.in_transaction
        before = hooks.txn_state() if watch else 0
        if fault is not None:
            self._fault(fault)
        else:
            stmt = self.stmt
            args = self.args
            if stmt.busy_timeout:
                hooks.set_real_busy_timeout(conn._timeout_ms)
            if stmt.journal_mode and conn._memory_journal:
                if stmt.journal_mode_read and self.method != "executescript":
                    args = (_JOURNAL_AS_SQLITE_REPORTS_IT, *args[2:])
                else:
                    conn._memory_journal = False  # the body chose a mode: it is real from now on
                    if db is not None:
                        db.sidecars = True
            try:
                self.value = self.fn(*self._resumable(args), **self.kwargs)
            except sqlite3.OperationalError as exc:
                if self._should_wait(exc, state):
                    return self._wait_for_lock(db)
                self.error = exc
            except BaseException as exc:  # aiosqlite hands every exception back
                self.error = exc
            finally:
                if stmt.busy_timeout:
                    conn._after_busy_timeout_pragma()
            if stmt.journal_mode and db is not None:
                conn._refresh_journal_mode(db)
        self.fn = _spent  # aiosqlite's worker drops the call: nothing may keep its cursor alive
        if db is not None and self in db.waiters:
            db.waiters.remove(self)
        self._settle(conn, state, was_open)
        if watch and db is not None:
            after = hooks.txn_state() if conn._hooks is not None else _capi.TXN_NONE
            if after < before:
                conn._wake_waiters(db)
        return True

    def _run_plain(self, conn: FakeConnection, hooks: _capi.Hooks) -> bool:
        """The common case of :meth:`run`: no fault, no special pragma, nobody waiting."""
        state = hooks.state
        state.busy_calls = state.commits = state.rollbacks = 0
        real = conn._real
        was_open = real is not None and real.in_transaction
        try:
            self.value = self.fn(*self._resumable(self.args), **self.kwargs)
        except sqlite3.OperationalError as exc:
            if self._should_wait(exc, state):
                return self._wait_for_lock(conn._db)
            self.error = exc
        except BaseException as exc:  # aiosqlite hands every exception back
            self.error = exc
        self.fn = _spent
        self._settle(conn, state, was_open)
        return True

    def _settle(self, conn: FakeConnection, state: _capi.HookState, was_open: bool) -> None:
        """After the call: did a transaction end, how, and which task holds the next one.

        The hooks say that SQLite committed or rolled back *something*; only a
        transaction that is gone has ended (a COMMIT that fails with ``SQLITE_BUSY``
        leaves it open for a retry, an executescript may open the next one), and
        only then do its held notifications go or drop.
        """
        if state.commits and self.error is None:
            self.committed = True
        real = conn._real
        now_open = real is not None and real.in_transaction
        if (state.commits or state.rollbacks) and not now_open:
            conn._transaction_ended(self.committed)
        if now_open:
            if not was_open:
                conn.transaction_task = self.submitter
        else:
            conn.transaction_task = None

    def _call_plain(self) -> bool:
        try:
            self.value = self.fn(*self.args, **self.kwargs)
        except BaseException as exc:
            self.error = exc
        self.fn = _spent
        return True

    def _should_wait(self, exc: sqlite3.OperationalError, state: _capi.HookState) -> bool:
        """SQLite consulted the busy handler for this SQLITE_BUSY: wait in virtual time.

        When it did not (a read upgrading to write, BUSY_SNAPSHOT), the error stands,
        as it does for real; the last attempt after the deadline fails for real too.
        """
        return (
            bool(state.busy_calls)
            and self.conn._timeout_ms > 0
            and not self.final
            and getattr(exc, "sqlite_errorcode", 0) & 0xFF == 5
        )

    def _resumable(self, args: tuple[Any, ...]) -> tuple[Any, ...]:
        """executemany: feed parameter sets through a counter, from where a wait stopped it.

        SQLite's busy handler waits *inside* the failing row; harness waits outside the
        call, so a retry must not replay the rows that already ran (in autocommit mode
        they committed). The resumed cursor's ``rowcount`` counts the resumed rows only.
        """
        if self.method != "executemany" or len(args) < 2:
            return args
        rows: list[Any] = args[1]
        start = self.consumed

        def counted() -> Any:
            for row in rows[start:]:
                self.consumed += 1
                yield row

        return (args[0], counted(), *args[2:])

    def _wait_for_lock(self, db: Database | None) -> bool:
        conn = self.conn
        if self.consumed:
            self.consumed -= 1  # the row SQLite was waiting in has not run: resume at it
        if self.deadline is None:
            self.deadline = conn._world.now() + conn._timeout_ms / 1000.0
        if db is not None and self not in db.waiters:
            db.waiters.append(self)
        return False

    def _fault(self, kind: str) -> None:
        """Fail like SQLite would: no effect, but Python's implicit BEGIN has already run."""
        real = self.conn._real
        if (
            real is not None
            and self.stmt.dml
            and self.method in _IMPLICIT_BEGIN_METHODS
            and real.isolation_level is not None
            and not real.in_transaction
            and getattr(real, "autocommit", _LEGACY) == _LEGACY
        ):
            level = real.isolation_level
            if not (kind == "busy" and level.upper() in ("IMMEDIATE", "EXCLUSIVE")):
                try:
                    real.execute(f"BEGIN {level}")
                except sqlite3.Error as exc:
                    self.error = exc
                    return
        self.error = fault_error(kind)


class FakeConnection(aiosqlite.Connection):
    """A drop-in ``aiosqlite.Connection`` running inside a simulation."""

    def __init__(
        self, layer: SqliteLayer, database: str, iter_chunk_size: int, kwargs: dict[str, Any]
    ) -> None:
        # aiosqlite.Connection.__init__ is not called on purpose: it creates a real thread.
        world = layer.world
        self._running = True
        self._connection: sqlite3.Connection | None = None
        self._iter_chunk_size = iter_chunk_size
        self._world = world
        self._layer = layer
        self._generation = world.generation
        uri = bool(kwargs.get("uri", False))
        self._db, self._target = layer.databases.resolve(database, uri)
        shown = os.path.basename(database.split("?")[0]) or database or ":memory:"
        self._name = world.unique_name(shown)
        self._channel = Channel(self._name, serial=world.config.mode == "fifo")
        self._worker_id = 0x7F0000000000 + world.new_id()  # a stable stand-in thread id
        timeout = kwargs.pop("timeout", 5.0)
        self._timeout_ms = max(0, int(float(timeout) * 1000))
        kwargs.pop("loop", None)
        self._kwargs = kwargs
        self._hooks: _capi.Hooks | None = None
        # the real connection, kept apart from aiosqlite's _connection (which its close
        # path clears even when the close never ran, e.g. in an abandoned task)
        self._real: sqlite3.Connection | None = None
        self._memory_journal = False  # see _open
        self._pending_notifies: list[PendingNotify] = []
        self.transaction_task: str | None = None
        """The task whose statement opened the current transaction (None outside one)."""
        layer.connections.append(self)

    def __repr__(self) -> str:
        return f"<harness FakeConnection {self._name}>"

    def __del__(self) -> None:
        return None

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    @isolation_level.setter
    def isolation_level(self, value: aiosqlite.core.IsolationLevel) -> None:
        # sqlite3 checks the thread in this one setter: under aiosqlite the connection
        # belongs to the worker thread, so setting it from the loop fails unless
        # check_same_thread=False was passed. The fake keeps that behaviour.
        if self._kwargs.get("check_same_thread", True):
            raise sqlite3.ProgrammingError(
                "SQLite objects created in a thread can only be used in that same thread. "
                f"The object was created in thread id {self._worker_id} and this is thread "
                f"id {threading.get_ident()}."
            )
        self._conn.isolation_level = value

    @property
    def name(self) -> str:
        """The connection's name in timelines (``app.db#2``)."""
        return self._name

    # ----------------------------------------------------- the worker bridge
    def _submit(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        *,
        label: str | None = None,
        barrier: bool = False,
    ) -> asyncio.Future[Any]:
        world = self._world
        if world.generation != self._generation:
            world.check_alive(self._generation)
        loop = world.loop
        assert loop is not None
        future: asyncio.Future[Any] = loop.create_future()
        world.submit(SqlOp(self, fn, args, kwargs, future, label=label, barrier=barrier))
        return future

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        return await self._submit(fn, args, kwargs)

    async def _connect(self) -> FakeConnection:
        if self._connection is None:
            try:
                future = self._submit(self._open, (), {}, label="connect", barrier=True)
                self._connection = await future
            except BaseException:
                self._running = False
                self._connection = None
                raise
        return self

    def __await__(self) -> Generator[Any, None, FakeConnection]:
        return self._connect().__await__()

    def stop(self) -> asyncio.Future[Any] | None:
        """Stop the simulated worker (aiosqlite's ``stop``): queued work still runs first."""
        self._running = False
        try:
            return self._submit(_stop_worker, (), {}, label="stop worker", barrier=True)
        except Exception:
            return None

    async def close(self) -> None:
        """Complete queued work and close the connection (aiosqlite's ``close``)."""
        if self._connection is None:
            return
        try:
            if not self._running:
                raise ValueError("Connection closed")
            await self._submit(self._close_real, (), {}, label="close", barrier=True)
        finally:
            self._connection = None
            future = self.stop()
            if future is not None:
                await future

    async def interrupt(self) -> None:
        raise NotImplementedError(
            "aiosqlite.Connection.interrupt() is not supported inside a harness simulation"
        )

    async def enable_load_extension(self, value: bool) -> None:
        raise NotImplementedError(
            "aiosqlite.Connection.enable_load_extension() is not "
            "supported inside a harness simulation"
        )

    async def load_extension(self, path: str) -> None:
        raise NotImplementedError(
            "aiosqlite.Connection.load_extension() is not supported inside a harness simulation"
        )

    # ------------------------------------------------- runs on "the thread"
    def _open(self) -> sqlite3.Connection:
        real: sqlite3.Connection = sqlite3.connect(self._target, timeout=0, **self._kwargs)
        try:
            self._hooks = _capi.Hooks(real, next(_hook_keys))
        except BaseException:
            real.close()
            raise
        self._real = real
        db = self._db
        if db is not None and db.path is not None and not db.wal:
            # Speed: a rollback journal kept in memory instead of a file created and
            # deleted by every transaction (3x faster on tmpfs). Locking is the same
            # rollback-journal protocol; only power-loss durability differs, and crashes
            # are simulated by closing connections. ``PRAGMA journal_mode`` still reads
            # "delete", as SQLite reports it; setting any mode makes it real.
            try:
                real.execute("PRAGMA journal_mode = MEMORY")
                self._memory_journal = True
            except sqlite3.Error:
                pass
        if db is not None and not self._memory_journal:
            db.sidecars = True
        return real

    def _close_real(self) -> None:
        real, self._real = self._real, None
        if real is not None:
            real.close()
        self._detach()

    def _detach(self) -> None:
        if self._hooks is not None:
            self._hooks.detach()
            self._hooks = None

    def _after_busy_timeout_pragma(self) -> None:
        real, hooks = self._real, self._hooks
        if real is None or hooks is None:
            return
        self._timeout_ms = int(real.execute("PRAGMA busy_timeout").fetchone()[0])
        hooks.install_busy_handler()

    def _refresh_journal_mode(self, db: Database) -> None:
        real = self._real
        if real is None:
            return
        try:
            mode = real.execute("PRAGMA journal_mode").fetchone()[0]
        except sqlite3.Error:
            return
        db.wal = str(mode).lower() == "wal"

    def _wake_waiters(self, db: Database) -> None:
        waiters, db.waiters = db.waiters, []
        for op in waiters:
            self._world.wake(op, f"{self._name} released its lock")

    def _transaction_ended(self, committed: bool) -> None:
        pending, self._pending_notifies = self._pending_notifies, []
        for item in pending:
            item.resolve(committed)

    def _hard_close(self) -> None:
        """Crash or schedule end: roll back and close without going through the loop."""
        real, self._real = self._real, None
        self._running = False
        self._connection = None
        self._pending_notifies = []
        if real is not None:
            try:
                if self._hooks is not None:
                    self._hooks.reset_statements()
                if real.in_transaction:
                    real.rollback()
                real.close()
            except sqlite3.Error:
                pass
        self._detach()


def _stop_worker() -> None:
    return None


class SqliteLayer:
    """The fake aiosqlite of one schedule: its databases and connections."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.databases = Databases(world.workdir, f"{next(_workdir_prefixes)}-")
        self.connections: list[FakeConnection] = []

    def connect(
        self,
        database: str | bytes | os.PathLike[str],
        *,
        iter_chunk_size: int = 64,
        loop: asyncio.AbstractEventLoop | None = None,
        **kwargs: Any,
    ) -> FakeConnection:
        """Same signature as ``aiosqlite.connect``: returns an awaitable connection."""
        name = database.decode("utf-8") if isinstance(database, bytes) else os.fspath(database)
        return FakeConnection(self, name, iter_chunk_size, dict(kwargs))

    def close_all(self) -> None:
        for conn in self.connections:
            conn._hard_close()
        self.connections = []
        for db in self.databases.by_name.values():
            db.waiters.clear()

    def cleanup(self) -> None:
        self.close_all()
        self.databases.remove_files()


def layer_of(world: World) -> SqliteLayer:
    """The sqlite layer of a world, created on first use."""
    layer = world.extensions.get("sqlite")
    if layer is None:
        layer = world.extensions["sqlite"] = SqliteLayer(world)
    assert isinstance(layer, SqliteLayer)
    return layer
