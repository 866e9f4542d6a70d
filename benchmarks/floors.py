"""What the smallest body costs with no harness at all: the ceilings of any schedule rate.

Two floors, each µs per schedule of the work every schedule of the smallest body
(:func:`smallest_body`) asks for, measured in this process:

* :func:`sqlite_floor_us` — SQLite's own work: a fresh file on the same tmpfs,
  opened as the simulation opens a private file (``unix-excl`` VFS, the
  in-memory rollback journal), the body's four statements, close and delete;
* :func:`inline_floor_us` — the same body's *aiosqlite code* on a stock asyncio
  loop with SQLite behind it, each job run at once on the loop's thread instead
  of on aiosqlite's worker thread (no thread, no scheduling, no recording): what
  the body's own libraries cost. harness runs that very code (issue 10: the
  ``Connection`` is aiosqlite's own), so no schedule of it can be cheaper.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import tempfile
import time
from typing import Any

import aiosqlite
import aiosqlite.core

from harness.sqlite._database import _private_uri, default_workroot

wall = time.perf_counter


def _uri(path: str) -> str:
    """The URI the simulation opens a private file at ``path`` with (its VFS, quoted)."""
    return _private_uri(path, "")


def sqlite_floor_us(n: int) -> float:
    """µs per schedule of SQLite's own work for the smallest body (see the module docstring)."""
    with tempfile.TemporaryDirectory(dir=default_workroot()) as d:
        path = os.path.join(d, "kv.db")
        uri = _uri(path)
        started = wall()
        for _ in range(n):
            conn = sqlite3.connect(uri, uri=True, timeout=0, isolation_level=None)
            conn.execute("PRAGMA journal_mode = MEMORY")
            conn.execute("CREATE TABLE IF NOT EXISTS kv(k TEXT PRIMARY KEY, v TEXT)")
            for value in ("v1", "v2"):
                conn.execute("INSERT OR REPLACE INTO kv VALUES ('k', ?)", (value,))
            conn.execute("SELECT v FROM kv").fetchall()
            conn.close()
            os.unlink(path)
        return (wall() - started) / n * 1e6


class _InlineJobs:
    """aiosqlite's job queue (``_tx``) run at once on the loop's thread, results as its
    worker hands them back (``call_soon`` of aiosqlite's own ``set_result``)."""

    def put_nowait(self, item: tuple[Any, Any]) -> None:
        future, function = item
        try:
            result = function()
        except BaseException as exc:  # as aiosqlite's worker: every exception goes back
            if future is not None:
                future.get_loop().call_soon(aiosqlite.core.set_exception, future, exc)
        else:
            if future is not None:
                future.get_loop().call_soon(aiosqlite.core.set_result, future, result)

    put = put_nowait


class _NoThread:
    daemon = True

    def start(self) -> None:
        return None


async def smallest_body(sim: Any, database: str = "kv.db") -> None:
    """Two tasks write one key on one connection, then read it (fifo: always correct)."""
    db = await sim.connect(database, isolation_level=None)
    await db.execute("CREATE TABLE IF NOT EXISTS kv(k TEXT PRIMARY KEY, v TEXT)")

    async def write(value: str) -> None:
        await db.execute("INSERT OR REPLACE INTO kv VALUES ('k', ?)", (value,))

    await asyncio.gather(write("v1"), write("v2"))
    await db.execute_fetchall("SELECT v FROM kv")
    await db.close()


class _InlineSim:
    """What :func:`smallest_body` asks of ``sim``: ``connect``, here to an inline aiosqlite."""

    def __init__(self, uri: str) -> None:
        self.uri = uri

    def connect(self, database: str, **kwargs: Any) -> aiosqlite.Connection:
        uri = self.uri

        def connector() -> sqlite3.Connection:
            conn = sqlite3.connect(uri, uri=True, timeout=0, **kwargs)
            conn.execute("PRAGMA journal_mode = MEMORY")  # as the simulation does at open
            return conn

        db = aiosqlite.Connection(connector, 64)
        db._tx = _InlineJobs()  # type: ignore[assignment]
        db._thread = _NoThread()  # type: ignore[assignment]
        return db


def inline_floor_us(n: int) -> float:
    """µs per schedule of the smallest body's aiosqlite code inline on a stock loop.

    A new event loop per schedule, as the simulation makes one per schedule.
    """
    with tempfile.TemporaryDirectory(dir=default_workroot()) as d:
        path = os.path.join(d, "kv.db")
        uri = _uri(path)
        started = wall()
        for _ in range(n):
            loop = asyncio.new_event_loop()
            try:
                loop.run_until_complete(smallest_body(_InlineSim(uri)))
            finally:
                loop.close()
            os.unlink(path)
        return (wall() - started) / n * 1e6
