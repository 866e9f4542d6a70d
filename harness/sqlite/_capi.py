"""A thin ctypes bridge to the SQLite library that Python's ``sqlite3`` uses.

Why: fidelity. SQLite decides *itself* when the busy handler is consulted
(first lock with no transaction open; the rollback-journal COMMIT wait) and
when it returns ``SQLITE_BUSY`` at once (read-to-write upgrade against a
RESERVED lock, ``SQLITE_BUSY_SNAPSHOT``). Rather than re-implementing that
rule, harness installs a busy handler that records the call and returns 0
("give up now"), so the statement fails at once and harness waits for the
lock in *virtual* time, then retries. Commit and rollback hooks tell exactly
when a transaction ended and how; ``sqlite3_txn_state`` tells which lock a
connection holds.

The ``sqlite3 *`` handle is read from the ``pysqlite_Connection`` object (the
first field after ``PyObject_HEAD``). :func:`probe` validates that layout once
per process against ``sqlite3_db_filename``; if anything is off, harness
refuses to run rather than guess.
"""

from __future__ import annotations

import _sqlite3
import ctypes
import os
import sqlite3
import sys
import tempfile
from dataclasses import dataclass
from typing import Any

TXN_NONE, TXN_READ, TXN_WRITE = 0, 1, 2

_BUSY_CB = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_int)
_COMMIT_CB = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)
_ROLLBACK_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p)


@dataclass(slots=True)
class HookState:
    """What SQLite told us during the last operation of one connection."""

    busy_calls: int = 0
    commits: int = 0
    rollbacks: int = 0

    def reset(self) -> None:
        self.busy_calls = self.commits = self.rollbacks = 0


_STATES: dict[int, HookState] = {}


def _on_busy(arg: int | None, count: int) -> int:
    state = _STATES.get(arg or 0)
    if state is not None:
        state.busy_calls += 1
    return 0  # do not retry now: harness waits in virtual time


def _on_commit(arg: int | None) -> int:
    state = _STATES.get(arg or 0)
    if state is not None:
        state.commits += 1
    return 0  # let the commit proceed


def _on_rollback(arg: int | None) -> None:
    state = _STATES.get(arg or 0)
    if state is not None:
        state.rollbacks += 1


_busy_cb = _BUSY_CB(_on_busy)
_commit_cb = _COMMIT_CB(_on_commit)
_rollback_cb = _ROLLBACK_CB(_on_rollback)


class _Lib:
    def __init__(self) -> None:
        import _sqlite3

        lib = ctypes.CDLL(_sqlite3.__file__)
        self.busy_handler = lib.sqlite3_busy_handler
        self.busy_handler.argtypes = [ctypes.c_void_p, _BUSY_CB, ctypes.c_void_p]
        self.busy_handler.restype = ctypes.c_int
        self.busy_timeout = lib.sqlite3_busy_timeout
        self.busy_timeout.argtypes = [ctypes.c_void_p, ctypes.c_int]
        self.busy_timeout.restype = ctypes.c_int
        self.commit_hook = lib.sqlite3_commit_hook
        self.commit_hook.argtypes = [ctypes.c_void_p, _COMMIT_CB, ctypes.c_void_p]
        self.commit_hook.restype = ctypes.c_void_p
        self.rollback_hook = lib.sqlite3_rollback_hook
        self.rollback_hook.argtypes = [ctypes.c_void_p, _ROLLBACK_CB, ctypes.c_void_p]
        self.rollback_hook.restype = ctypes.c_void_p
        self.txn_state = lib.sqlite3_txn_state
        self.txn_state.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        self.txn_state.restype = ctypes.c_int
        self.next_stmt = lib.sqlite3_next_stmt
        self.next_stmt.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        self.next_stmt.restype = ctypes.c_void_p
        self.reset = lib.sqlite3_reset
        self.reset.argtypes = [ctypes.c_void_p]
        self.reset.restype = ctypes.c_int
        self.db_filename = lib.sqlite3_db_filename
        self.db_filename.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        self.db_filename.restype = ctypes.c_char_p
        self.vfs_find = lib.sqlite3_vfs_find
        self.vfs_find.argtypes = [ctypes.c_char_p]
        self.vfs_find.restype = ctypes.c_void_p


_HANDLE_OFFSET = object.__basicsize__  # sizeof(PyObject_HEAD): sqlite3 *db follows it
_lib: _Lib | None = None
_problem: str | None = None
_thread_offset: int | None = None  # where pysqlite_Connection keeps its creating thread's id
_thread_probed = False


def _probe_thread_offset() -> int | None:
    """Find the ``thread_ident`` field of ``pysqlite_Connection`` (None if not found).

    A connection is created on a short-lived low-level thread (``_thread``, not
    ``threading``: this may run inside a simulation); the one word of the object
    that holds that thread's id is the field sqlite3 compares in its
    ``check_same_thread`` test. The candidate is then verified: setting it to
    this thread's id must make the connection usable here.
    """
    import _thread

    box: dict[str, Any] = {}
    done = _thread.allocate_lock()
    done.acquire()

    def make() -> None:
        try:
            box["conn"] = _sqlite3.connect(":memory:")
            box["ident"] = _thread.get_ident()
        finally:
            done.release()

    _thread.start_new_thread(make, ())
    done.acquire()
    conn, ident = box.get("conn"), box.get("ident")
    if conn is None:
        return None
    try:
        words = type(conn).__basicsize__ // ctypes.sizeof(ctypes.c_ulong)
        size = ctypes.sizeof(ctypes.c_ulong)
        for i in range(1, words):
            slot = ctypes.c_ulong.from_address(id(conn) + i * size)
            if slot.value != ident:
                continue
            slot.value = _thread.get_ident()
            try:
                conn.execute("SELECT 1")
            except sqlite3.ProgrammingError:
                slot.value = ident
                continue
            return i * size
        return None
    finally:
        try:
            conn.close()
        except sqlite3.ProgrammingError:  # pragma: no cover - no slot was found
            pass


def prepare() -> None:
    """Probe the C API and the connection layout once, before any schedule runs.

    (The probes create temporary files and a short-lived thread: inside a
    schedule that would be reported as the body's own non-determinism.)
    """
    global _thread_offset, _thread_probed
    try:
        probe()
    except RuntimeError:
        pass  # reported when a connection opens
    if not _thread_probed:
        _thread_probed = True
        try:
            _thread_offset = _probe_thread_offset()
        except (OSError, ValueError, RuntimeError):  # pragma: no cover - exotic builds
            _thread_offset = None


def thread_slot(conn: sqlite3.Connection) -> ctypes.c_ulong | None:
    """A view of the thread id ``conn`` believes it was created in (None if unknown)."""
    if not _thread_probed:
        prepare()
    if _thread_offset is None:
        return None
    return ctypes.c_ulong.from_address(id(conn) + _thread_offset)


def has_vfs(name: str) -> bool:
    """Whether this SQLite build has the VFS ``name`` (False if the C API is out of reach)."""
    try:
        return bool(probe().vfs_find(name.encode()))
    except RuntimeError:
        return False


def handle_of(conn: sqlite3.Connection) -> int:
    """The ``sqlite3 *`` of an open Python connection."""
    value = ctypes.c_void_p.from_address(id(conn) + _HANDLE_OFFSET).value
    if not value:
        raise RuntimeError("sqlite3 connection has no database handle (closed?)")
    return value


def probe() -> _Lib:
    """Load the library and validate the handle layout once; raise RuntimeError if unusable."""
    global _lib, _problem
    if _lib is not None:
        return _lib
    if _problem is not None:
        raise RuntimeError(_problem)
    try:
        if sys.implementation.name != "cpython":
            raise RuntimeError(f"needs CPython, this is {sys.implementation.name}")
        lib = _Lib()
        fd, path = tempfile.mkstemp(suffix=".db")
        os.close(fd)
        try:
            conn = _sqlite3.connect(path)
            try:
                name = lib.db_filename(handle_of(conn), b"main")
                if name is None or os.path.realpath(name.decode()) != os.path.realpath(path):
                    raise RuntimeError("unexpected sqlite3.Connection layout")
            finally:
                conn.close()
        finally:
            os.unlink(path)
    except (OSError, AttributeError, RuntimeError) as exc:
        _problem = (
            f"harness cannot reach the SQLite C API through Python's sqlite3 module "
            f"({exc}); it needs CPython with a dynamically exported libsqlite3"
        )
        raise RuntimeError(_problem) from None
    _lib = lib
    return lib


class Hooks:
    """Hooks installed on one real connection; remove with :meth:`detach`."""

    __slots__ = ("db", "key", "lib", "state")

    def __init__(self, conn: sqlite3.Connection, key: int) -> None:
        self.lib = probe()
        self.db = handle_of(conn)
        self.key = key
        self.state = HookState()
        _STATES[key] = self.state
        self.lib.commit_hook(self.db, _commit_cb, key)
        self.lib.rollback_hook(self.db, _rollback_cb, key)
        self.install_busy_handler()

    def install_busy_handler(self) -> None:
        self.lib.busy_handler(self.db, _busy_cb, self.key)

    def set_real_busy_timeout(self, ms: int) -> None:
        """Temporarily let SQLite hold the real value (so ``PRAGMA busy_timeout`` reads it)."""
        self.lib.busy_timeout(self.db, ms)

    def txn_state(self) -> int:
        return int(self.lib.txn_state(self.db, None))

    def reset_statements(self) -> None:
        """Reset every prepared statement, releasing the read locks open cursors hold.

        A crash must release every lock, as the OS does for a dead process; but
        ``sqlite3.Connection.close`` uses ``sqlite3_close_v2``, which keeps a
        connection whose statements are still referenced (by abandoned cursors)
        alive as a zombie — with its locks.
        """
        stmt: int | None = None
        while True:
            stmt = self.lib.next_stmt(self.db, stmt)
            if not stmt:
                return
            self.lib.reset(stmt)

    def detach(self) -> None:
        _STATES.pop(self.key, None)
