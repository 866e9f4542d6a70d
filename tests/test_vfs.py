"""Private files open through SQLite's ``unix-excl`` VFS, and that is invisible (``_database``).

The claim the simulation rests on: ``unix-excl`` is SQLite's ``unix`` VFS with
one POSIX lock per process instead of one system call per lock change; locks
between the connections of one process are decided by the same in-process
lock table, so every statement of every connection sees what it would see on
``unix``. The first test checks that claim on drawn sequences of statements on
three connections (rollback journal in memory, as harness keeps it; the
default ``delete`` journal; WAL). Drawn against ``memdb`` instead — a VFS
whose writer blocks new readers — it fails at once, so it can tell.
"""

from __future__ import annotations

import ctypes
import gc
import os
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import harness
from harness.sqlite import _capi
from harness.sqlite._database import default_workroot

pytestmark = pytest.mark.skipif(
    not _capi.has_vfs("unix-excl"), reason="this SQLite build has no unix-excl VFS"
)

_STATEMENTS = (
    "BEGIN",
    "BEGIN IMMEDIATE",
    "BEGIN EXCLUSIVE",
    "SELECT count(*) FROM t",
    "INSERT INTO t VALUES (1)",
    "CREATE TABLE IF NOT EXISTS u(x)",
    "COMMIT",
    "ROLLBACK",
    "PRAGMA journal_mode",
    "PRAGMA wal_checkpoint",
)
_ACTIONS = (*_STATEMENTS, "open a cursor", "close", "reopen")
_SETUP = {"memory": "PRAGMA journal_mode = MEMORY", "delete": None, "wal": None}


def _outcomes(vfs: str | None, mode: str, actions: list[tuple[int, str]]) -> list[Any]:
    """What each action observes on three connections to one fresh file through ``vfs``.

    The cyclic collector is off meanwhile: a connection closed under an open cursor
    lives on, with its lock, until the cursor goes, and on 3.13 that can be when
    the collector runs (as inside a schedule, where harness also turns it off).
    """
    gc.disable()
    try:
        return _observe(vfs, mode, actions)
    finally:
        gc.enable()


def _observe(vfs: str | None, mode: str, actions: list[tuple[int, str]]) -> list[Any]:
    with tempfile.TemporaryDirectory(dir=default_workroot()) as folder:
        path = os.path.join(folder, "a.db")

        def connect() -> sqlite3.Connection:
            if vfs is None:
                conn = sqlite3.connect(path, timeout=0, isolation_level=None)
            else:
                conn = sqlite3.connect(
                    f"file:{path}?vfs={vfs}", uri=True, timeout=0, isolation_level=None
                )
            setup = _SETUP[mode]
            if setup is not None:
                try:
                    conn.execute(setup)
                except sqlite3.Error:
                    conn.close()
                    raise
            return conn

        conns = [connect() for _ in range(3)]
        conns[0].execute("CREATE TABLE t(x)")
        conns[0].execute("INSERT INTO t VALUES (0), (0)")
        if mode == "wal":
            conns[0].execute("PRAGMA journal_mode = WAL")
        cursors: list[sqlite3.Cursor] = []
        seen: list[Any] = []
        for index, action in actions:
            conn = conns[index]
            try:
                if action == "close":
                    conn.close()
                    seen.append("closed")
                elif action == "reopen":
                    conn.close()
                    conns[index] = connect()
                    seen.append("reopened")
                elif action == "open a cursor":  # a read that holds its lock while unfinished
                    cursor = conn.execute("SELECT x FROM t")
                    seen.append(("cursor", cursor.fetchone()))
                    cursors.append(cursor)
                else:
                    seen.append(("ok", conn.execute(action).fetchall(), conn.in_transaction))
            except sqlite3.Error as exc:
                seen.append((type(exc).__name__, str(exc)))
        for conn in conns:
            conn.close()
        cursors.clear()  # a connection closed under an open cursor lives on until it goes
        cursor = None
        check = sqlite3.connect(path, timeout=0)
        try:
            seen.append(check.execute("SELECT count(*) FROM t").fetchall())
        except sqlite3.Error as exc:
            seen.append((type(exc).__name__, str(exc)))
        finally:
            check.close()
        return seen


@settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    mode=st.sampled_from(sorted(_SETUP)),
    actions=st.lists(
        st.tuples(st.integers(0, 2), st.sampled_from(_ACTIONS)), min_size=1, max_size=16
    ),
)
def test_unix_excl_decides_every_lock_as_unix_does(
    mode: str, actions: list[tuple[int, str]]
) -> None:
    assert _outcomes("unix-excl", mode, actions) == _outcomes(None, mode, actions)


def test_the_comparison_can_tell_a_vfs_that_locks_differently() -> None:
    """``memdb`` blocks a reader while another connection writes; ``unix`` does not."""
    actions = [
        (0, "BEGIN IMMEDIATE"),
        (0, "INSERT INTO t VALUES (1)"),
        (1, "SELECT count(*) FROM t"),
    ]
    on_unix = _outcomes(None, "memory", actions)
    assert on_unix[2] == ("ok", [(2,)], False)
    conns = [sqlite3.connect("file:/vfs-probe.db?vfs=memdb", uri=True, timeout=0) for _ in range(2)]
    conns[0].isolation_level = conns[1].isolation_level = None
    conns[0].execute("CREATE TABLE t(x)")
    conns[0].execute("BEGIN IMMEDIATE")
    conns[0].execute("INSERT INTO t VALUES (1)")
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        conns[1].execute("SELECT count(*) FROM t")
    for conn in conns:
        conn.close()


_FCNTL_VFSNAME = 12  # SQLITE_FCNTL_VFSNAME


def _vfs_of(conn: sqlite3.Connection) -> str:
    lib = ctypes.CDLL(__import__("_sqlite3").__file__)
    lib.sqlite3_file_control.argtypes = [
        ctypes.c_void_p,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_void_p,
    ]
    name = ctypes.c_char_p()
    rc = lib.sqlite3_file_control(
        _capi.handle_of(conn), b"main", _FCNTL_VFSNAME, ctypes.byref(name)
    )
    assert rc == 0 and name.value is not None
    return name.value.decode()


def test_a_private_file_opens_through_unix_excl_unless_the_body_names_a_vfs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    seen: list[tuple[str, str]] = []

    async def body(sim: harness.Sim) -> None:
        for name, database, uri in (
            ("path", "app.db", False),
            ("uri", "file:app.db?cache=private", True),
            ("uri naming unix", "file:other.db?vfs=unix", True),
        ):
            conn = sqlite3.connect(database, uri=uri)
            conn.execute("CREATE TABLE IF NOT EXISTS t(x)")
            seen.append((name, _vfs_of(conn)))
            conn.close()

    result = harness.explore(body, schedules=2, workers=1)
    assert not result.failed, result.report
    assert seen[:3] == [("path", "unix-excl"), ("uri", "unix-excl"), ("uri naming unix", "unix")]
    assert not list(tmp_path.iterdir())  # the user's directory is never written


def test_a_work_directory_whose_name_needs_quoting_in_a_uri(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A private path goes into a ``file:`` URI: ``?``, ``#``, ``%`` and spaces are quoted."""
    root = tmp_path / "work ?#%41 dir"
    root.mkdir()
    monkeypatch.setenv("HARNESS_TMPDIR", str(root))
    monkeypatch.chdir(tmp_path)

    async def body(sim: harness.Sim) -> None:
        db = await sim.connect("app.db", isolation_level=None)
        await db.execute("CREATE TABLE t(x)")
        await db.execute("INSERT INTO t VALUES (1)")
        assert await db.execute_fetchall("SELECT x FROM t") == [(1,)]
        (row,) = await db.execute_fetchall("PRAGMA database_list")
        assert row[2].startswith(str(root) + os.sep), row
        await db.close()

    result = harness.explore(body, schedules=3, workers=1)
    assert not result.failed, result.report
    assert sorted(p.name for p in tmp_path.iterdir()) == [root.name]
