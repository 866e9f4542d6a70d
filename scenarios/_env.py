"""What a scenario's workload runs against: a simulation, or the real world.

A workload is written once against :class:`Env` and runs in two ways:

* :class:`SimEnv` — inside a harness simulation: ``connect`` is the fake
  aiosqlite, time is virtual, notifications go through ``sim.bus`` (delivery
  order chosen by the strategy), file I/O is a virtual-time delay;
* :class:`RealEnv` — on real aiosqlite with real threads: files in a
  temporary directory, real ``asyncio.sleep`` (virtual seconds scaled down by
  ``scale``), an in-process notification bus, real file reads in a thread.

Both record *file I/O done while the task doing it holds a transaction open*
on a connection the store opened (``io_in_transaction``; the transaction
belongs to the task whose call opened it, in both modes), for scenarios whose
invariant forbids it, and keep a log of named moments in the order they
happened (:meth:`Env.mark`, ``env.log``) for checks that are about order.

**Real-mode checks are structural.** Real time is never exact and a busy
machine stretches it arbitrarily, so no real-mode check compares durations.
A check that needs "B does not wait for A" makes A *wait for B* instead
(:meth:`Env.hold_io`): in real mode the held file I/O ends only once B is
done, or once nothing but that I/O can make progress (no aiosqlite call or
thread read in flight, no sleep pending, for a few loop turns) — which is
exactly when B is waiting for it. The check then compares the order of
``env.log`` entries. In simulation the hold is not needed: virtual time is
exact and the I/O takes its virtual duration.

Likewise, two real sleeps of different lengths do not end in the order of
their lengths on a busy machine (a task that starts a few milliseconds late
ends late). A workload that needs "the shorter one ends first" says so with
:meth:`Env.until`: in real mode the longer one waits for the condition before
it goes on; in simulation it is already true and nothing is awaited, so
schedules (and tokens) are the same as without it.
"""

from __future__ import annotations

import asyncio
import os
import queue
import random
import sqlite3
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, cast

import aiosqlite

import harness


class Subscription(Protocol):
    async def get(self) -> Any: ...


class Bus(Protocol):
    def listen(self, channel: str) -> Subscription: ...

    async def notify(self, channel: str, payload: Any = None, *, conn: Any = None) -> None: ...


class Env:
    """The common surface; see the module docstring."""

    kind = "abstract"
    tolerance = 1e-9  # virtual seconds a latency check allows (real time is never exact)
    random: random.Random
    notes: dict[str, Any]
    bus: Bus

    def __init__(self) -> None:
        self._tracked: list[aiosqlite.Connection] = []
        self._opened: list[Any] = []
        self.io_in_transaction: list[str] = []
        self.log: list[str] = []
        self._holds: dict[str, Callable[[], bool]] = {}

    def mark(self, moment: str) -> None:
        """Log that ``moment`` happened now (``env.log`` keeps the order)."""
        self.log.append(moment)

    def before(self, first: str, second: str) -> bool:
        """Whether ``first`` was logged before ``second`` (both must have been logged)."""
        return self.log.index(first) < self.log.index(second)

    def hold_io(self, path: str, until: Callable[[], bool]) -> None:
        """Real mode: the file I/O of ``path`` ends no earlier than ``until()`` (see above)."""
        self._holds[path] = until

    async def _hold(self, path: str) -> None:
        return None

    async def until(self, condition: Callable[[], bool]) -> None:
        """Real mode: go on only once ``condition()`` holds; in simulation: nothing.

        For orders that virtual time gives exactly and real time does not (see
        above). In simulation this awaits nothing: it is no scheduling point.
        """
        return None

    def _open(self, database: str, **kwargs: Any) -> Any:
        raise NotImplementedError

    def connect(self, database: str, **kwargs: Any) -> Any:
        """A connection of the store under test (tracked for the file-I/O check)."""
        conn = self._open(database, **kwargs)
        self._tracked.append(conn)
        self._opened.append(conn)
        return conn

    def connect_other(self, database: str, **kwargs: Any) -> Any:
        """A connection of another process (not tracked)."""
        conn = self._open(database, **kwargs)
        self._opened.append(conn)
        return conn

    async def close_leftovers(self) -> None:
        """Close what a workload left open when it failed midway.

        On real aiosqlite an unclosed connection keeps a non-daemon worker thread
        alive, so the process could not exit; in simulation harness closes them anyway.
        """
        for conn in self._opened:
            if getattr(conn, "_connection", None) is not None:
                try:
                    await conn.close()
                except Exception:  # the run already failed; its error is what matters
                    pass

    def now(self) -> float:
        raise NotImplementedError

    def seconds(self, virtual: float) -> float:
        """A duration for APIs that take real seconds (``wait_for`` timeouts)."""
        return virtual

    async def sleep(self, seconds: float) -> None:
        raise NotImplementedError

    async def _read(self, path: str) -> bytes:
        raise NotImplementedError

    def _inside_transaction(self) -> list[str]:
        """Connections whose open transaction belongs to the task doing I/O now."""
        raise NotImplementedError

    async def file_io(self, path: str, seconds: float = 0.5) -> bytes:
        """Slow file I/O taking ``seconds`` (virtual); records it if done inside a transaction."""
        before = self._inside_transaction()
        data = await self._read(path)
        await self.sleep(seconds)
        await self._hold(path)
        self.mark(f"io done: {path}")
        held = [name for name in self._inside_transaction() if name in before]
        if held:
            self.io_in_transaction.append(
                f"{path} read while {', '.join(held)} held a transaction open"
            )
        return data

    @property
    def file_reader(self) -> Callable[[str], Awaitable[bytes]]:
        return self.file_io


class SimEnv(Env):
    """A workload inside a harness simulation."""

    kind = "sim"

    def __init__(self, sim: harness.Sim) -> None:
        super().__init__()
        self.sim = sim
        self.random = sim.random
        self.notes = sim.notes
        self.bus = sim.bus

    def _open(self, database: str, **kwargs: Any) -> Any:
        return self.sim.connect(database, **kwargs)

    def now(self) -> float:
        return self.sim.now()

    def _inside_transaction(self) -> list[str]:
        task = asyncio.current_task()
        if task is None:
            return []
        me = task.get_name()
        states = [self.sim.connection_state(c) for c in self._tracked if _opened(c)]
        return [s.name for s in states if s.transaction_task == me]

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def _read(self, path: str) -> bytes:
        return path.encode()


def _opened(conn: Any) -> bool:
    """Whether a tracked connection was awaited (it has a simulated worker)."""
    return not isinstance(getattr(conn, "_tx", None), queue.SimpleQueue | queue.Queue)


class _LocalSubscription:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[Any] = asyncio.Queue()

    async def get(self) -> Any:
        return await self.queue.get()


class LocalBus:
    """An in-process bus for real mode: delivery in send order, at commit for ``conn=``."""

    def __init__(self) -> None:
        self._subs: dict[str, list[_LocalSubscription]] = {}

    def listen(self, channel: str) -> _LocalSubscription:
        sub = _LocalSubscription()
        self._subs.setdefault(channel, []).append(sub)
        return sub

    async def notify(self, channel: str, payload: Any = None, *, conn: Any = None) -> None:
        for sub in self._subs.get(channel, ()):
            sub.queue.put_nowait(payload)


def _in_transaction(conn: aiosqlite.Connection) -> bool:
    """Whether the sqlite3 connection under ``conn`` has a transaction open (closed: no)."""
    raw = getattr(conn, "_connection", None)
    try:
        return raw is not None and bool(raw.in_transaction)
    except sqlite3.ProgrammingError:  # closed by the call just made
        return False


class RealEnv(Env):
    """A workload on real aiosqlite, real threads and real (scaled) time."""

    kind = "real"
    QUIET_TURNS = 20
    """Loop turns with nothing in flight after which a held I/O counts as the only progress."""

    def __init__(self, directory: str, seed: int = 0, scale: float = 0.01) -> None:
        super().__init__()
        self.directory = directory
        self.scale = scale
        self.random = random.Random(seed)
        self.notes = {}
        self.bus = LocalBus()
        self._t0 = time.monotonic()
        self._in_flight = 0  # aiosqlite calls and thread reads not yet returned
        self._owners: dict[int, asyncio.Task[Any]] = {}  # id(conn) -> task that opened its tx
        self._sleeping = 0

    def _open(self, database: str, **kwargs: Any) -> Any:
        conn = aiosqlite.connect(os.path.join(self.directory, database), **kwargs)
        execute = cast("Callable[..., Awaitable[Any]]", conn._execute)  # every call goes here
        owners = self._owners
        key = id(conn)  # the connection stays referenced in self._opened

        async def counted(fn: Any, *args: Any, **kw: Any) -> Any:
            submitter = asyncio.current_task()

            def job(*a: Any, **k: Any) -> Any:
                # on the connection's own thread, right after the call: no other job of
                # this connection can run between the call and this bookkeeping
                was_open = key in owners
                try:
                    return fn(*a, **k)
                finally:
                    if not _in_transaction(conn):
                        owners.pop(key, None)
                    elif not was_open and submitter is not None:
                        owners[key] = submitter

            self._in_flight += 1
            try:
                return await execute(job, *args, **kw)
            finally:
                self._in_flight -= 1

        conn._execute = counted  # type: ignore[method-assign]
        return conn

    async def _hold(self, path: str) -> None:
        until = self._holds.get(path)
        if until is None:
            return
        quiet = 0
        while not until() and quiet < self.QUIET_TURNS:
            await asyncio.sleep(0)
            quiet = quiet + 1 if self._in_flight == 0 and self._sleeping == 0 else 0

    async def until(self, condition: Callable[[], bool]) -> None:
        while not condition():
            await asyncio.sleep(0)

    def now(self) -> float:
        return (time.monotonic() - self._t0) / self.scale

    def seconds(self, virtual: float) -> float:
        return virtual * self.scale

    def _inside_transaction(self) -> list[str]:
        # as in simulation: the transaction belongs to the task whose call opened it
        # (recorded on the connection's thread, so a slow machine cannot blur it)
        me = asyncio.current_task()
        return [str(i) for i, c in enumerate(self._tracked) if self._owners.get(id(c)) is me]

    async def sleep(self, seconds: float) -> None:
        self._sleeping += 1
        try:
            await asyncio.sleep(seconds * self.scale)
        finally:
            self._sleeping -= 1

    async def _read(self, path: str) -> bytes:
        target = os.path.join(self.directory, os.path.basename(path) or "io.bin")

        def read() -> bytes:
            with open(target, "ab+") as f:
                f.seek(0)
                return f.read()

        self._in_flight += 1
        try:
            return await asyncio.to_thread(read)
        finally:
            self._in_flight -= 1
