"""One job on a simulated aiosqlite worker: a statement, a connect, a close or a stop.

A :class:`JobOp` is what ``Worker.put`` submits to the world for each
``(future, function)`` item on a connection's ``_tx`` queue (see ``_worker``).
When the strategy runs it, it calls the function on the real ``sqlite3``
connection, on the simulation's thread, with the worker's thread identity;
when the strategy delivers it, its result or error reaches the future with
``call_soon``, as aiosqlite's ``call_soon_threadsafe`` would. A statement that
meets another connection's lock waits in virtual time (busy timeout), and an
injected fault fails it before SQLite sees it.
"""

from __future__ import annotations

import functools
import sqlite3
import threading
from collections.abc import Callable, Sized
from typing import TYPE_CHECKING, Any

from .._ops import PENDING, Op, deferred_result_key
from .._thirdparty import aiosqlite as compat
from ..faults import fault_error
from ..trace import scrub, short
from ._capi import TXN_NONE, TXN_WRITE, HookState
from ._classify import NOT_SQL, Statement, classify
from ._real import RealConnection
from ._rows import Rows

if TYPE_CHECKING:
    from ._worker import Worker

_SQL_METHODS = frozenset(
    {"execute", "executemany", "executescript", "_execute_insert", "_execute_fetchall"}
)
_IMPLICIT_BEGIN_METHODS = frozenset(
    {"execute", "executemany", "_execute_insert", "_execute_fetchall"}
)
_COMMIT = Statement("COMMIT", False, False, True, False, False, False, False)
_PLAIN_KEYWORDS = frozenset(
    {
        *("SELECT", "INSERT", "UPDATE", "DELETE", "REPLACE", "WITH"),
        *("BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE"),
        *("CREATE", "DROP", "ALTER"),
    }
)
"""Statements whose effects stay in their connection's database (no ATTACH, VACUUM INTO, ...)."""
_PLAIN_CALLS = frozenset(
    {"commit", "rollback", "cursor", "close", "fetchone", "fetchmany", "fetchall"}
)
"""Jobs that are not statements and install nothing in SQLite; any other taints the connection."""
_LEGACY = getattr(sqlite3, "LEGACY_TRANSACTION_CONTROL", -1)


def _stopped() -> tuple[object, ...]:
    return ("stopped",)


_current_thread = threading.get_ident


def _shown(value: Any) -> str:
    """A stable short form of a job argument (no memory addresses)."""
    text = repr(value)
    if " at 0x" in text or " object at " in text:
        return f"<{type(value).__name__}>"
    return short(text, 20)


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
    shown = ", ".join(_shown(a) for a in args if not callable(a))
    return f"{prefix}{method}({shown})"


def _spent(*args: Any, **kwargs: Any) -> None:
    raise RuntimeError("harness: an operation ran twice")


class JobOp(Op):
    """One job on a connection's worker: runs on the real ``sqlite3`` connection."""

    __slots__ = (
        "args",
        "closes",
        "connects",
        "fn",
        "kwargs",
        "method",
        "on_cursor",
        "rows",
        "semantic",
        "stmt",
        "stops",
        "worker",
    )

    def __init__(self, worker: Worker, item: Any) -> None:
        self.worker = worker
        self.rows: Rows | None = None
        self.connects = self.closes = self.stops = False
        future: Any = None
        if item is worker.sentinel:  # 0.20-0.21: the sentinel item stops the worker
            function: Any = None
            self.stops = True
        else:
            future, function = item
        label: str | None = None
        if isinstance(function, functools.partial):  # aiosqlite's _execute: a call on its thread
            fn, args, kwargs = function.func, function.args, function.keywords
            method = getattr(fn, "__name__", "call")
            owner = getattr(fn, "__self__", None)
            on_cursor = isinstance(owner, sqlite3.Cursor)
            if function is worker.connector:
                self.connects = True
                label = "connect"
            elif method == "close" and isinstance(owner, sqlite3.Connection):
                self.closes = True
                label = "close"
        else:
            fn, args, kwargs = function, (), {}
            method = getattr(fn, "__name__", "call")
            owner = getattr(fn, "__self__", None)
            on_cursor = isinstance(owner, sqlite3.Cursor)
            if function is not None and function is worker.connector:
                self.connects = True
                label = "connect"
            elif self.stops or compat.is_stop_job(function):
                self.stops = True
                label = "stop worker"
            elif method == "close" and isinstance(owner, sqlite3.Connection):
                self.closes = True
                label = "close"
        if method in _SQL_METHODS and args and type(args[0]) is str:
            stmt = classify(args[0])
        elif method == "commit" and not on_cursor:
            stmt = _COMMIT
        else:
            stmt = NOT_SQL
        # Op.__init__(worker.channel, label, future, barrier=...), inline: once per job
        channel = worker.channel
        self.id = 0
        self.ordinal = 0
        self.channel = channel
        self._label = label
        self.future = future
        self.barrier = self.connects or self.stops or self.closes
        self.state = PENDING
        self.value = None
        self.error = None
        self.submitter = "loop"
        self.committed = False
        self.deadline = None
        self.deadline_handle = None
        self.final = False
        self.actor = channel.name
        # stopping the worker is aiosqlite's plumbing (0.22 queues a job for it, 0.19
        # clears a flag): not part of what the body did, so tokens carry across them
        self.semantic = not self.stops
        self.write = worker.is_file and bool(stmt.write or stmt.commit or stmt.begin_lock)
        if method == "executemany" and len(args) > 1:
            self.rows = Rows(args[1])
        self.on_cursor = on_cursor
        self.fn: Callable[..., Any] | None = fn
        self.args = args
        self.kwargs = kwargs  # a partial's own dict: the job is its only user from now on
        self.method = method
        self.stmt = stmt

    def signature(self) -> tuple[object, ...]:
        """What the job asks, as plain values (h2 digest): independent of aiosqlite's API.

        ``("connect",)``, ``("close",)``, ``("stop",)``, ``("commit",)``,
        ``("sql", text, parameters)`` for any statement (``execute``,
        ``execute_fetchall``, ``execute_insert``, on a cursor or the connection),
        ``("many", text, parameter sets)``, ``("script", text)``, or
        ``("call", method, arguments)``.
        """
        if self.connects:
            return ("connect",)
        if self.stops:
            return ("stop",)
        if self.closes:
            return ("close",)
        method = self.method
        args = self.args
        if self.stmt is _COMMIT:
            return ("commit",)
        if self.stmt is not NOT_SQL:
            sql = args[0]
            if method == "executescript":
                return ("script", sql)
            if method == "executemany":
                rows = args[1] if len(args) > 1 else None
                shown = repr(list(rows)) if isinstance(rows, list | tuple) else "<iterable>"
                return ("many", sql, scrub(shown))
            params = args[1] if len(args) > 1 else ()
            if isinstance(params, list):
                params = tuple(params)
            return ("sql", sql, scrub(repr(params)))
        return ("call", method, tuple(_shown(a) for a in args if not callable(a)))

    def outcome_key(self) -> tuple[object, ...]:
        if self.stops or self.value is self.worker.sentinel:
            return ("stopped",)
        return super().outcome_key()

    def deferred_outcome_key(self) -> Callable[[], tuple[object, ...]]:
        if self.stops or self.value is self.worker.sentinel:
            return _stopped
        return deferred_result_key(self.value, self.error)

    def describe_call(self) -> str:
        if self.fn is None and not self.stops:
            return "job"
        args = self.args
        sql = args[0] if self.stmt is not NOT_SQL and self.stmt is not _COMMIT else None
        return _label(self.method, self.on_cursor, sql, args)

    def fault_kinds(self) -> tuple[str, ...]:
        rc = self.worker.real
        if rc is None or rc.real is None or rc.db is None or rc.hooks is None:
            return ()
        stmt = self.stmt
        state = rc.hooks.txn_state()
        if stmt.commit:
            if state != TXN_WRITE:
                return ()
            return ("ioerror", "full") if rc.db.wal else ("busy", "ioerror", "full")
        if stmt.write:
            return ("ioerror", "full") if state == TXN_WRITE else ("busy", "ioerror", "full")
        if stmt.begin_lock and state == TXN_NONE and not rc.real.in_transaction:
            return ("busy",)
        return ()

    # -------------------------------------------------------- commutation
    def footprint(self) -> tuple[object, bool] | None:
        """``(database, read only)`` when executing now touches only that database.

        None (touches anything) unless it is one plain statement (see
        ``_PLAIN_KEYWORDS``; no pragma, script, ``random()``, or parameters other
        than a tuple, list or dict) on an open connection that no job gave user
        code (hooks, functions, extensions) and that is not a shared-cache
        memory database (whose table locks harness does not reason about).
        """
        stmt = self.stmt
        if stmt is NOT_SQL or stmt.special or self.method in ("executescript", "executemany"):
            return None
        if stmt is not _COMMIT:
            args = self.args
            if stmt.keyword not in _PLAIN_KEYWORDS or "random" in args[0].lower():
                return None
            if self.kwargs or (len(args) > 1 and type(args[1]) not in (tuple, list, dict)):
                return None
        rc = self.worker.real
        if rc is None or rc.real is None or rc.hooks is None or rc.tainted:
            return None
        db = rc.db
        if db is None:
            return (("private", id(rc)), True)  # its own memory database: touches no other
        if db.path is None:
            return None
        return (db.key, stmt.keyword == "SELECT" and not stmt.write)

    def commutes(self, other: Op) -> bool:
        """Different databases where at most one may wait; or two reads no writer can block."""
        if not isinstance(other, JobOp):
            return False
        mine, theirs = self.footprint(), other.footprint()
        if mine is None or theirs is None:
            return False
        if mine[0] != theirs[0]:
            return not (self._may_wait() and other._may_wait())
        db = self.worker.real.db if self.worker.real is not None else None
        return mine[1] and theirs[1] and db is not None and not self._writer_on(db)

    def _may_wait(self) -> bool:
        """Another open connection shares this job's database file (it might hold a lock)."""
        mine = self.worker.real
        db = mine.db if mine is not None else None
        if db is None or db.path is None:
            return False
        return any(rc is not mine and rc.db is db and rc.real is not None for rc in self._reals())

    def _writer_on(self, db: Any) -> bool:
        """Some connection holds a write transaction on ``db``, or a statement waits there."""
        if db.waiters:
            return True
        return any(
            rc.db is db and rc.real is not None and rc.txn_state() == TXN_WRITE
            for rc in self._reals()
        )

    def _reals(self) -> list[RealConnection]:
        reals: list[RealConnection] = self.worker.layer.reals
        return reals

    # ---------------------------------------------------------------- run
    def run(self, fault: str | None) -> bool:
        worker = self.worker
        if self.stops and self.fn is None:  # the sentinel item: no call
            worker.stop()
            return True
        rc = worker.real
        if rc is None or rc.real is None or rc.hooks is None:
            return self._run_unattached(worker)
        db = rc.db
        slot = rc.thread_slot  # the job runs on "its" thread (see _real.RealConnection)
        if slot is not None:
            slot.value = _current_thread()
        try:
            if fault is None and not self.stmt.special and (db is None or not db.waiters):
                done = self._run_plain(rc)
            else:
                done = self._run_careful(rc, fault)
        finally:
            if slot is not None and rc.real is not None:
                slot.value = rc.owner_thread
        if done:
            self._finish(worker, rc)
        return done

    def _run_unattached(self, worker: Worker) -> bool:
        """Connect, or any job on a worker with no open connection (after close)."""
        layer_opening = worker.layer
        previous, layer_opening.opening = layer_opening.opening, worker
        closed = worker.real  # closed already: a job still runs as its worker thread would
        try:
            if closed is None:
                self._call(self.args)
            else:  # closed.running_here(), without a generator: once per connection
                before = closed.move_here()
                try:
                    self._call(self.args)
                finally:
                    closed.move_back(before)
        finally:
            layer_opening.opening = previous
        if self.connects and worker.real is not None:
            worker.connected()
        worker.after_job(self)
        return True

    def _call(self, args: tuple[Any, ...]) -> None:
        fn = self.fn
        assert fn is not None
        try:
            self.value = fn(*args, **self.kwargs)
        except BaseException as exc:  # aiosqlite's worker hands every exception back
            self.error = exc
        self.fn = _spent  # the worker drops the call: nothing may keep its cursor alive

    def _run_plain(self, rc: RealConnection) -> bool:
        """The common case: no fault, no special pragma, nobody waiting for a lock."""
        hooks = rc.hooks
        assert hooks is not None
        state = hooks.state
        state.busy_calls = state.commits = state.rollbacks = 0
        was_open = rc.in_transaction()
        fn = self.fn
        assert fn is not None
        try:
            self.value = fn(*(self.args if self.rows is None else self._resumable()), **self.kwargs)
        except sqlite3.OperationalError as exc:
            if self._should_wait(exc, state, rc):
                return self._wait_for_lock(rc)
            self.error = exc
        except BaseException as exc:  # aiosqlite's worker hands every exception back
            self.error = exc
        self._settle(rc, state, was_open)
        return True

    def _run_careful(self, rc: RealConnection, fault: str | None) -> bool:
        hooks = rc.hooks
        assert hooks is not None
        db = rc.db
        watch = db is not None and bool(db.waiters)
        state = hooks.state
        state.reset()
        was_open = rc.in_transaction()
        before = hooks.txn_state() if watch else 0
        stmt = self.stmt
        if fault is not None:
            self._fault(fault, rc)
        else:
            if stmt.journal_mode:
                rc.before_journal_statement()
            if stmt.busy_timeout:
                rc.before_busy_timeout_statement()
            fn = self.fn
            assert fn is not None
            try:
                self.value = fn(*self._resumable(), **self.kwargs)
            except sqlite3.OperationalError as exc:
                if self._should_wait(exc, state, rc):
                    return self._wait_for_lock(rc)
                self.error = exc
            except BaseException as exc:  # aiosqlite's worker hands every exception back
                self.error = exc
            finally:
                if stmt.busy_timeout:
                    rc.after_busy_timeout_statement(str(self.args[0]))
            if stmt.journal_mode:
                rc.after_journal_statement()
        if db is not None and self in db.waiters:
            db.waiters.remove(self)
        self._settle(rc, state, was_open)
        if watch and db is not None:
            after = TXN_NONE if rc.closed_by_job() or rc.hooks is None else hooks.txn_state()
            if after < before:
                self.worker.layer.wake_waiters(db, self.worker.name)
        return True

    def _finish(self, worker: Worker, rc: RealConnection) -> None:
        """After a job: track user hooks; notice a close or a stopped worker."""
        self.fn = _spent
        method = self.method
        if method.startswith("set_") and self.error is None:
            rc.track(method, self.args)
        stmt = self.stmt
        if stmt is NOT_SQL:
            if method not in _PLAIN_CALLS and not (self.closes or self.stops):
                rc.tainted = True  # user code in SQLite, or a call harness cannot see into
        elif method == "executescript" or stmt.keyword in ("ATTACH", "DETACH"):
            rc.tainted = True  # now it may touch other databases
        if self.closes or self.stops or (self.stmt is NOT_SQL and not self.on_cursor):
            was_open = rc.transaction_task is not None
            db = rc.db
            if rc.closed_by_job():
                if was_open:
                    rc.transaction_ended(False)
                rc.transaction_task = None
                if db is not None:
                    worker.layer.wake_waiters(db, worker.name)
        worker.after_job(self)

    def _settle(self, rc: RealConnection, state: HookState, was_open: bool) -> None:
        """After the call: did a transaction end, how, and which task holds the next one.

        The hooks say that SQLite committed or rolled back *something*; only a
        transaction that is gone has ended (a COMMIT that fails with ``SQLITE_BUSY``
        leaves it open for a retry, an executescript may open the next one), and
        only then do its held notifications go or drop.
        """
        if state.commits and self.error is None:
            self.committed = True
        now_open = rc.in_transaction()
        if (state.commits or state.rollbacks) and not now_open:
            rc.transaction_ended(self.committed)
        if now_open:
            if not was_open:
                rc.transaction_task = self.submitter
        else:
            rc.transaction_task = None

    def _should_wait(
        self, exc: sqlite3.OperationalError, state: HookState, rc: RealConnection
    ) -> bool:
        """SQLite consulted the busy handler for this SQLITE_BUSY: wait in virtual time.

        When it did not (a read upgrading to write, BUSY_SNAPSHOT), the error stands,
        as it does for real; the last attempt after the deadline fails for real too.
        """
        return (
            bool(state.busy_calls)
            and rc.timeout_ms > 0
            and not self.final
            and getattr(exc, "sqlite_errorcode", 0) & 0xFF == 5
        )

    def _resumable(self) -> tuple[Any, ...]:
        """The call's arguments; executemany's rows are fed from where a wait stopped them.

        SQLite's busy handler waits *inside* the failing row; harness waits outside
        the call, so a retry must not replay the rows that already ran (in
        autocommit mode they committed). The resumed cursor's ``rowcount`` counts
        the resumed rows only.
        """
        rows = self.rows
        if rows is None:
            return self.args
        return (self.args[0], rows.feed(), *self.args[2:])

    def _wait_for_lock(self, rc: RealConnection) -> bool:
        rows = self.rows
        if rows is not None and rows.consumed:
            rows.consumed -= 1  # the row SQLite was waiting in has not run: resume at it
        if self.deadline is None:
            world = self.worker.world
            assert world is not None  # a job runs in its worker's schedule
            self.deadline = world.now() + rc.timeout_ms / 1000.0
        db = rc.db
        if db is not None and self not in db.waiters:
            db.waiters.append(self)
        return False

    def _fault(self, kind: str, rc: RealConnection) -> None:
        """Fail like SQLite would: no effect, but Python's implicit BEGIN has already run."""
        real = rc.real
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
                    with rc.quiet() as quiet:
                        quiet.execute(f"BEGIN {level}")
                except sqlite3.Error as exc:
                    self.error = exc
                    return
        self.error = fault_error(kind)
