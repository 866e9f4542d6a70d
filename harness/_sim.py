"""``Sim``: what a body receives (DESIGN §3, contract)."""

from __future__ import annotations

import os
import random
import sys
import types
from dataclasses import dataclass
from typing import Any

from ._world import World
from .bus import Bus
from .faults import Faults
from .sqlite._worker import worker_of


@dataclass(frozen=True)
class ConnectionState:
    """What harness knows of one simulated aiosqlite connection (``sim.connection_state``)."""

    name: str  # as timelines name it: ``app.db#2``
    in_transaction: bool
    transaction_task: str | None  # the task whose statement opened the transaction


def _aiosqlite() -> types.ModuleType:
    module = sys.modules.get("aiosqlite")
    if module is None:
        import aiosqlite

        module = aiosqlite
    return module


class Sim:
    """The simulation as seen by a body: connections, bus, notes, clock, randomness.

    ``notes`` is a dict for the test's own observations (a Jepsen-style
    history): fresh per schedule, and it survives a crash — ``recover(sim)``
    sees what the client had recorded up to the crash. ``random`` is a
    ``random.Random`` whose seed is part of the schedule (and its token).
    """

    def __init__(self, world: World, notes: dict[str, Any], crashes: int = 0) -> None:
        self._world = world
        self.bus = Bus(world)
        self.notes = notes
        self.crashes = crashes  # how many times the process crashed before this incarnation

    @property
    def random(self) -> random.Random:
        """The schedule's ``random.Random`` (seeded by the schedule; draws are in the timeline)."""
        return self._world.random

    def connect(self, database: str | bytes | os.PathLike[str], **kwargs: Any) -> Any:
        """``aiosqlite.connect`` (it is aiosqlite's own): ``await`` it or use ``async with``.

        Every aiosqlite connection opened inside a simulation is simulated, so
        ``sim.connect(x)`` and application code calling ``aiosqlite.connect(x)``
        are the same thing.
        """
        return _aiosqlite().connect(database, **kwargs)

    @property
    def aiosqlite(self) -> types.ModuleType:
        """The ``aiosqlite`` module: inside a simulation every connection of it is simulated."""
        return _aiosqlite()

    def connection_state(self, conn: Any) -> ConnectionState:
        """Name and transaction state of an aiosqlite connection opened in this schedule."""
        worker = worker_of(conn)
        if worker is None or worker.world is not self._world:
            raise TypeError(f"{conn!r} is not an aiosqlite connection opened in this schedule")
        rc = worker.real
        return ConnectionState(
            name=worker.name,
            in_transaction=rc is not None and rc.in_transaction(),
            transaction_task=rc.transaction_task if rc is not None else None,
        )

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
