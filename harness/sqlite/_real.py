"""One real ``sqlite3`` connection inside a simulation, and what harness keeps about it.

Every ``sqlite3.connect`` that runs inside a simulation — the connector job of
an aiosqlite connection, or a plain call in the body (migrations, a sync
engine) — is routed here: it opens the schedule's private database (see
``_database``) with ``timeout=0`` and harness's hooks (see ``_capi``), and a
:class:`RealConnection` records:

* the busy timeout the user asked for (``timeout=`` in seconds, 5.0 by
  default as in ``sqlite3.connect``; ``PRAGMA busy_timeout`` changes it) —
  harness waits for locks in virtual time with SQLite's own rule;
* the thread the connection belongs to. An aiosqlite connection belongs to
  its worker thread: harness runs jobs on the simulation's thread, so it
  marks the connection as created by a stand-in thread id and switches that
  mark to the running thread only while a job runs. Use from the loop
  (``db._conn.execute(...)``, the ``isolation_level = None`` setter) then
  fails with sqlite3's own "SQLite objects created in a thread…" error, as it
  does on real aiosqlite unless ``check_same_thread=False``;
* the user's trace callback, authorizer and progress handler (as set through
  jobs), so that harness's own bookkeeping statements run with them removed:
  user hooks never see, and cannot fail, a statement the body did not run;
* which task opened the current transaction, and the notifications held until
  it ends (``sim.bus.notify(..., conn=db)``).

Rollback-journal databases keep their journal in memory (``journal_mode=
MEMORY``, set before the user can install a hook): the same locking protocol,
3x faster on tmpfs. The first statement that mentions ``journal_mode``
switches the connection to SQLite's real default (``delete``) beforehand, so
``PRAGMA journal_mode`` and ``pragma_journal_mode`` read what SQLite would
report, and any mode the body sets is real.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ._capi import Hooks, thread_slot
from ._database import Database

if TYPE_CHECKING:
    from ..bus import PendingNotify

_BUSY_TIMEOUT_SET = re.compile(
    r"\bbusy_timeout\s*(?:=\s*|\(\s*)([+-]?\d+)", re.IGNORECASE
)  # PRAGMA [schema.]busy_timeout = N | (N)


def busy_timeout_set_by(sql: str) -> int | None:
    """The busy timeout (ms) the last ``PRAGMA busy_timeout = N`` in ``sql`` sets, if any."""
    values = _BUSY_TIMEOUT_SET.findall(sql)
    if not values:
        return None
    return max(0, int(values[-1]))


class RealConnection:
    """A real connection opened inside a simulation (see the module docstring)."""

    __slots__ = (
        "closed",
        "db",
        "hooks",
        "memory_journal",
        "owner_thread",
        "pending_notifies",
        "real",
        "sync",
        "tainted",
        "thread_slot",
        "timeout_ms",
        "tracked",
        "transaction_task",
    )

    def __init__(
        self, real: sqlite3.Connection, db: Database | None, timeout_ms: int, key: int
    ) -> None:
        self.real: sqlite3.Connection | None = real
        self.closed: sqlite3.Connection | None = None  # once closed: kept for its thread mark
        self.db = db
        self.timeout_ms = timeout_ms
        self.hooks: Hooks | None = Hooks(real, key)
        self.memory_journal = False
        self.tracked: dict[str, tuple[Any, ...]] = {}  # user hooks: method -> its arguments
        self.transaction_task: str | None = None
        """The task whose statement opened the current transaction (None outside one)."""
        self.pending_notifies: list[PendingNotify] = []
        self.thread_slot = thread_slot(real)
        self.owner_thread = threading.get_ident()
        self.sync = False  # opened by the body itself, not by an aiosqlite worker
        self.tainted = False  # a job installed Python code in SQLite (hooks, functions, ...)

    # ------------------------------------------------------------ threads
    def belong_to(self, thread_id: int) -> None:
        """Mark the connection as created by ``thread_id`` (its simulated worker)."""
        self.owner_thread = thread_id
        self._mark(thread_id)

    def _mark(self, thread_id: int) -> None:
        slot = self.thread_slot
        if slot is not None and (self.real is not None or self.closed is not None):
            slot.value = thread_id

    @contextmanager
    def running_here(self) -> Iterator[None]:
        """While a job runs: the connection belongs to the running thread (re-entrant)."""
        before = self.move_here()
        try:
            yield
        finally:
            self.move_back(before)

    def move_here(self) -> int:
        """Mark the connection as the running thread's; return the mark to restore."""
        slot = self.thread_slot
        before = slot.value if slot is not None else 0
        self._mark(threading.get_ident())
        return before

    def move_back(self, before: int) -> None:
        """Undo :meth:`move_here` (unless the connection was forgotten meanwhile)."""
        slot = self.thread_slot
        if slot is not None and (self.real is not None or self.closed is not None):
            slot.value = before

    # --------------------------------------------------------------- hooks
    def track(self, method: str, args: tuple[Any, ...]) -> None:
        """A job installed (or removed) a user hook: remember it for :meth:`quiet`."""
        if method in ("set_trace_callback", "set_authorizer", "set_progress_handler"):
            if args and args[0] is None:
                self.tracked.pop(method, None)
            else:
                self.tracked[method] = args

    @contextmanager
    def quiet(self) -> Iterator[sqlite3.Connection]:
        """Run harness's own statements with the user's hooks removed, then restore them."""
        real = self.real
        assert real is not None
        tracked = dict(self.tracked)
        with self.running_here():
            for method in tracked:
                if method == "set_progress_handler":
                    real.set_progress_handler(None, 0)
                else:
                    getattr(real, method)(None)
            try:
                yield real
            finally:
                for method, args in tracked.items():
                    getattr(real, method)(*args)

    # ------------------------------------------------------------ journal
    def use_memory_journal(self) -> None:
        """At open, before any user hook: keep a rollback journal in memory (see above)."""
        db = self.db
        if db is None or db.path is None or db.wal or self.real is None:
            if db is not None:
                db.sidecars = True
            return
        try:
            self.real.execute("PRAGMA journal_mode = MEMORY")
            self.memory_journal = True
        except sqlite3.Error:
            db.sidecars = True

    def before_journal_statement(self) -> None:
        """A statement will read or set the journal mode: make it SQLite's real default first."""
        if not self.memory_journal or self.real is None:
            return
        self.memory_journal = False
        if self.db is not None:
            self.db.sidecars = True
        try:
            with self.quiet() as real:
                real.execute("PRAGMA journal_mode = DELETE")
        except sqlite3.Error:
            pass

    def after_journal_statement(self) -> None:
        """Learn whether the body switched the database to WAL (persistent in the file)."""
        db = self.db
        if db is None or self.real is None:
            return
        try:
            with self.quiet() as real:
                mode = real.execute("PRAGMA journal_mode").fetchone()[0]
        except sqlite3.Error:
            return
        db.wal = str(mode).lower() == "wal"

    # --------------------------------------------------------- busy timeout
    def before_busy_timeout_statement(self) -> None:
        """Let SQLite hold the emulated value, so ``PRAGMA busy_timeout`` reads it."""
        if self.hooks is not None:
            self.hooks.set_real_busy_timeout(self.timeout_ms)

    def after_busy_timeout_statement(self, sql: str) -> None:
        value = busy_timeout_set_by(sql)
        if value is not None:
            self.timeout_ms = value
        if self.hooks is not None:
            self.hooks.install_busy_handler()

    # ------------------------------------------------------- transactions
    def in_transaction(self) -> bool:
        real = self.real
        if real is None:
            return False
        try:
            return real.in_transaction
        except sqlite3.ProgrammingError:  # closed behind harness's back
            return False

    def txn_state(self) -> int:
        if self.sync and self.closed_by_job():  # the body may have closed its own connection
            return 0
        hooks = self.hooks
        return hooks.txn_state() if hooks is not None and self.real is not None else 0

    def transaction_ended(self, committed: bool) -> None:
        pending, self.pending_notifies = self.pending_notifies, []
        for item in pending:
            item.resolve(committed)

    # -------------------------------------------------------------- close
    def closed_by_job(self) -> bool:
        """Whether the real connection is closed (by a job, or by the body): forget it if so.

        Once closed, its SQLite handle is freed: nothing may reach it through
        the C API again (``_capi``), so every path that might meet a closed
        connection asks here first.
        """
        real = self.real
        if real is None:
            return True
        try:
            real.total_changes  # noqa: B018 - raises once the connection is closed
        except sqlite3.ProgrammingError:
            self._forget()
            return True
        return False

    def hard_close(self) -> None:
        """Crash or schedule end: roll back and close, as the OS would for a dead process."""
        self.pending_notifies = []
        if self.closed_by_job():  # closed already (by the body, or a job): its handle is freed
            return
        real = self.real
        if real is not None:
            try:
                with self.quiet():
                    if self.hooks is not None:
                        self.hooks.reset_statements()
                    if real.in_transaction:
                        real.rollback()
                self._mark(threading.get_ident())
                real.close()
            except sqlite3.Error:
                pass
        self._forget()

    def _forget(self) -> None:
        """The connection is closed: no C API call may reach its freed handle again.

        The ``sqlite3.Connection`` object itself is kept (``closed``) so that
        its thread mark stays valid: a later job on it fails as on the real
        worker thread (``Cannot operate on a closed database``), not with a
        wrong-thread error.
        """
        if self.real is not None:
            self.closed = self.real
        self.real = None
        if self.hooks is not None:
            self.hooks.detach()
            self.hooks = None
