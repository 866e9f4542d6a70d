"""Fault budgets and the errors injected faults raise.

A :class:`Faults` budget says how many faults of each kind may strike in one
schedule; the strategy chooses where (the engine offers a fault as an
alternative only where the real world could produce it):

* ``busy`` — ``database is locked`` (``SQLITE_BUSY``) where SQLite could return
  it: a statement that needs a lock its connection does not hold yet (first
  write of a transaction, ``BEGIN IMMEDIATE``/``EXCLUSIVE``) or a rollback-journal
  ``COMMIT`` (which needs ``EXCLUSIVE``). It models another process holding the
  lock past ``busy_timeout``.
* ``ioerror`` — ``disk I/O error`` (``SQLITE_IOERR``) on a write or ``COMMIT``.
* ``full`` — ``database or disk is full`` (``SQLITE_FULL``) on a write or ``COMMIT``.
* ``crash`` — the whole process dies: before a write or ``COMMIT`` executes, or
  after a ``COMMIT`` took effect but before its result was delivered.

A faulted statement has no effect on the database; as with the real error,
Python's implicit ``BEGIN`` that precedes it has already run where it would have.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

FAULT_KINDS = ("busy", "ioerror", "full")

_ERRORS = {
    "busy": ("database is locked", 5, "SQLITE_BUSY"),
    "ioerror": ("disk I/O error", 10, "SQLITE_IOERR"),
    "full": ("database or disk is full", 13, "SQLITE_FULL"),
}


@dataclass(frozen=True)
class Faults:
    """At most this many faults of each kind in one schedule (all default to 0)."""

    busy: int = 0
    ioerror: int = 0
    full: int = 0
    crash: int = 0

    def __post_init__(self) -> None:
        for name in ("busy", "ioerror", "full", "crash"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"Faults({name}=...) must be a non-negative int, not {value!r}")

    def __bool__(self) -> bool:
        return bool(self.busy or self.ioerror or self.full or self.crash)


def fault_error(kind: str) -> sqlite3.OperationalError:
    """The exception real SQLite raises for a fault of this kind."""
    message, code, name = _ERRORS[kind]
    error = sqlite3.OperationalError(message)
    error.sqlite_errorcode = code
    error.sqlite_errorname = name
    return error
