"""The fake aiosqlite: aiosqlite's own API over real SQLite, with a simulated worker.

Users reach it through ``sim.connect`` / ``sim.aiosqlite`` (or ``import aiosqlite``
inside a simulation); nothing here is public beyond the connection type.
"""

from __future__ import annotations

from ._connection import FakeConnection as FakeConnection

__all__ = ("FakeConnection",)
