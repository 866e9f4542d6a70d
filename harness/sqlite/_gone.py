"""aiosqlite connections whose process (schedule, incarnation) has ended.

Their real connections were closed with the process; the ``aiosqlite``
objects may live on (a module-level engine, a failure's traceback). This
module recognises the jobs that only close or stop such a connection (which
``_worker`` lets succeed at once) and keeps the objects until nothing else
refers to them (the graveyard).
"""

from __future__ import annotations

import atexit
import functools
import sqlite3
import sys
from typing import Any

from .._thirdparty import aiosqlite as compat


class _Graveyard:
    """aiosqlite connections whose process ended while they were still open.

    When a schedule ends (or crashes) harness closes every real connection; the
    ``aiosqlite.Connection`` objects may live on — in a failure's traceback, or
    in a module-level engine. aiosqlite still believes them open, which is what
    makes a later use reach the job queue and raise the stale-connection error;
    but its ``__del__`` would then warn "deleted before being closed" whenever
    they are collected, long after the schedule. So they are kept here, and
    once nothing else refers to one it is marked closed and let go, quietly.
    """

    def __init__(self) -> None:
        self._kept: dict[int, Any] = {}  # id -> connection: each kept once

    def bury(self, conn: Any) -> None:
        """Keep ``conn`` (once, however often: a crash and the schedule's end both bury it)."""
        self._kept[id(conn)] = conn

    def release_all(self) -> None:
        """At exit: every kept connection is marked closed (its process is long gone)."""
        kept, self._kept = self._kept, {}
        for conn in kept.values():
            compat.forget_connection(conn)

    def sweep(self) -> None:
        kept, self._kept = self._kept, {}
        for key in kept:  # not items(): its reused pair would hold one more reference
            conn = kept[key]
            # references: `kept`, this variable, getrefcount's argument
            if sys.getrefcount(conn) <= 3:
                compat.forget_connection(conn)
            else:
                self._kept[key] = conn
        del kept


_graveyard = _Graveyard()
sweep_graveyard = _graveyard.sweep
bury = _graveyard.bury
atexit.register(_graveyard.release_all)


def closes(item: Any, sentinel: object) -> bool:
    """A job that closes the connection or stops its worker (aiosqlite's close / stop).

    ``sentinel`` is the stop item of the connection's aiosqlite copy
    (``compat.stop_sentinel_of``).
    """
    if stops(item, sentinel):
        return True
    if not (isinstance(item, tuple) and len(item) == 2):
        return False
    function = item[1]
    fn = function.func if isinstance(function, functools.partial) else function
    return getattr(fn, "__name__", None) == "close" and isinstance(
        getattr(fn, "__self__", None), sqlite3.Connection
    )


def stops(item: Any, sentinel: object) -> bool:
    """A job that stops the worker: 0.20-0.21's sentinel item or 0.22's stop job."""
    if item is sentinel:
        return True
    return isinstance(item, tuple) and len(item) == 2 and compat.is_stop_job(item[1])
