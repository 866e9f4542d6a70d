"""``Sim``: what a body receives (DESIGN §3, contract)."""

from __future__ import annotations

import os
import random
import sqlite3
import types
from typing import Any

import aiosqlite

from ._world import World
from .bus import Bus
from .faults import Faults
from .sqlite._connection import FakeConnection, SqliteLayer, layer_of


def _module(layer: SqliteLayer) -> types.ModuleType:
    mod = types.ModuleType(
        "harness.aiosqlite",
        "aiosqlite, simulated: statements run on real SQLite at steps a strategy chooses",
    )
    names = (
        "DatabaseError",
        "DataError",
        "Error",
        "IntegrityError",
        "InterfaceError",
        "InternalError",
        "NotSupportedError",
        "OperationalError",
        "ProgrammingError",
        "Row",
        "Warning",
        "paramstyle",
        "register_adapter",
        "register_converter",
        "sqlite_version",
        "sqlite_version_info",
    )
    for name in names:
        setattr(mod, name, getattr(sqlite3, name))
    mod.connect = layer.connect  # type: ignore[attr-defined]
    mod.Connection = FakeConnection  # type: ignore[attr-defined]
    mod.Cursor = aiosqlite.Cursor  # type: ignore[attr-defined]
    mod.__version__ = aiosqlite.__version__  # type: ignore[attr-defined]
    return mod


class Sim:
    """The simulation as seen by a body: connections, bus, notes, clock, randomness.

    ``notes`` is a dict for the test's own observations (a Jepsen-style
    history): fresh per schedule, and it survives a crash — ``recover(sim)``
    sees what the client had recorded up to the crash. ``random`` is a
    ``random.Random`` whose seed is part of the schedule (and its token).
    """

    def __init__(self, world: World, notes: dict[str, Any], crashes: int = 0) -> None:
        self._world = world
        self._layer = layer_of(world)
        self._module: types.ModuleType | None = None
        self.bus = Bus(world)
        self.notes = notes
        self.random: random.Random = world.random
        self.crashes = crashes  # how many times the process crashed before this incarnation

    def connect(self, database: str | bytes | os.PathLike[str], **kwargs: Any) -> FakeConnection:
        """Like ``aiosqlite.connect``: ``await`` it or use it with ``async with``."""
        return self._layer.connect(database, **kwargs)

    @property
    def aiosqlite(self) -> types.ModuleType:
        """A module-like drop-in for ``aiosqlite`` bound to this simulation."""
        if self._module is None:
            self._module = _module(self._layer)
        return self._module

    def now(self) -> float:
        """Virtual time in seconds since the schedule started."""
        return self._world.now()

    @property
    def mode(self) -> str:
        """``"fifo"`` or ``"parallel"``."""
        return self._world.config.mode

    @property
    def faults(self) -> Faults:
        """The schedule's fault budget (as configured, not what is left)."""
        return self._world.config.faults

    def __repr__(self) -> str:
        return f"<harness.Sim t={self.now():.3f}s mode={self.mode}>"
