"""What harness changes in the process while a simulation runs, and why.

Installed once per exploration (:func:`controlled`), active only for code
running on the simulation's thread while a schedule runs (:func:`enter`);
every other thread and every moment between schedules sees the originals.

* aiosqlite's worker threads become simulated workers (``patch_aiosqlite=True``):
  when ``aiosqlite.Connection`` starts its thread, the schedule's sqlite layer
  takes over its job queue (``harness.sqlite._worker``), so every aiosqlite
  connection — ``aiosqlite.connect``, a directly constructed
  ``aiosqlite.Connection``, a library's — is under control.
* ``sqlite3.connect`` (also ``sqlite3.dbapi2.connect``) opens the schedule's
  private database, so aiosqlite's connector, migrations, Alembic and sync
  engines in the body see the same database (``harness.sqlite._layer``).
* Virtual time: ``time.time``, ``time.monotonic``, ``time.perf_counter`` (and
  ``_ns`` variants) follow the virtual clock, so code that compares
  timestamps agrees with ``asyncio.sleep``. ``datetime.now()`` cannot be
  intercepted: use ``sim.now()`` or ``time.time()``.
* The module-level ``random`` is seeded per schedule (its draws become part of
  the schedule); its state is restored afterwards.
* Escapes raise :class:`EscapeError`: starting a real thread, ``time.sleep``,
  a real socket connect. ``anyio.to_thread.run_sync`` becomes a simulated pool
  operation instead of a thread.
* ``os.urandom`` (behind ``uuid.uuid4`` and ``secrets``) is recorded as a
  non-determinism suspect, reported if a replay diverges.
"""

from __future__ import annotations

import _sqlite3
import contextlib
import os
import random
import socket
import sqlite3
import sqlite3.dbapi2
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from ._thirdparty import aiosqlite as aiosqlite_compat
from ._thirdparty import anyio as anyio_compat

if TYPE_CHECKING:
    from ._world import World

_EPOCH = 1_767_225_600.0  # 2026-01-01T00:00:00Z: virtual wall-clock time at t = 0
_MONOTONIC_BASE = 10_000.0

_orig_time = time.time
_orig_time_ns = time.time_ns
_orig_monotonic = time.monotonic
_orig_monotonic_ns = time.monotonic_ns
_orig_perf_counter = time.perf_counter
_orig_perf_counter_ns = time.perf_counter_ns
_orig_sleep = time.sleep
_orig_thread_start = threading.Thread.start
_orig_socket_connect = socket.socket.connect
_orig_urandom = os.urandom
_orig_sqlite_connect: Callable[..., sqlite3.Connection] = _sqlite3.connect


_INHERITED = object()  # the patched attribute was inherited: restore by deleting ours


class _State:
    world: World | None = None
    thread: int = 0
    depth: int = 0
    saved: list[tuple[object, str, object]] = []
    random_state: object = None
    patch_aiosqlite: bool = True


_state = _State()


def current_world() -> World | None:
    """The world of the schedule running on this thread, if any."""
    if _state.world is not None and threading.get_ident() == _state.thread:
        return _state.world
    return None


def _virtual(orig: Callable[[], float], offset: float) -> Callable[[], float]:
    def clock() -> float:
        world = current_world()
        return orig() if world is None else offset + world.now()

    clock.__name__ = orig.__name__
    clock.__doc__ = f"harness: virtual inside a simulation, else {orig.__name__}()"
    return clock


def _virtual_ns(orig: Callable[[], int], offset: float) -> Callable[[], int]:
    def clock() -> int:
        world = current_world()
        return orig() if world is None else int((offset + world.now()) * 1e9)

    clock.__name__ = orig.__name__
    return clock


def _sleep(seconds: float) -> None:
    world = current_world()
    if world is None:
        return _orig_sleep(seconds)
    raise world.escape(
        f"time.sleep({seconds!r}) blocks on the wall clock; use 'await asyncio.sleep({seconds!r})'"
    )


def _thread_start(self: threading.Thread) -> None:
    world = current_world()
    if world is None:
        return _orig_thread_start(self)
    conn = aiosqlite_compat.connection_of_thread(self)
    if conn is not None and _state.patch_aiosqlite:
        from .sqlite._layer import layer_of

        return layer_of(world).start_worker(conn)
    target = getattr(self, "_target", None)
    name = getattr(target, "__qualname__", None) or type(self).__name__
    hint = ""
    if conn is not None:
        name = "an aiosqlite worker thread"
        hint = " (patch_aiosqlite=False: aiosqlite connections are not simulated)"
    raise world.escape(f"a real thread was started ({name}){hint}")


def _socket_connect(self: socket.socket, address: Any) -> None:
    world = current_world()
    if world is None:
        return _orig_socket_connect(self, address)
    raise world.escape(f"a real socket connected to {address!r}")


def _urandom(size: int) -> bytes:
    world = current_world()
    if world is not None and "os.urandom" not in world.suspects:
        world.suspects.append("os.urandom (behind uuid.uuid4, secrets, tempfile names)")
    return _orig_urandom(size)


def _sqlite_connect(database: Any, *args: Any, **kwargs: Any) -> sqlite3.Connection:
    world = current_world()
    if world is None:
        return _orig_sqlite_connect(database, *args, **kwargs)
    from .sqlite._layer import layer_of

    connection: sqlite3.Connection = layer_of(world).open_real(database, args, kwargs)
    return connection


def _in_simulation() -> bool:
    return current_world() is not None


def _install(patch_aiosqlite: bool) -> None:
    patches: list[tuple[object, str, object]] = [
        (time, "time", _virtual(_orig_time, _EPOCH)),
        (time, "time_ns", _virtual_ns(_orig_time_ns, _EPOCH)),
        (time, "monotonic", _virtual(_orig_monotonic, _MONOTONIC_BASE)),
        (time, "monotonic_ns", _virtual_ns(_orig_monotonic_ns, _MONOTONIC_BASE)),
        (time, "perf_counter", _virtual(_orig_perf_counter, _MONOTONIC_BASE)),
        (time, "perf_counter_ns", _virtual_ns(_orig_perf_counter_ns, _MONOTONIC_BASE)),
        (time, "sleep", _sleep),
        (threading.Thread, "start", _thread_start),
        (socket.socket, "connect", _socket_connect),
        (os, "urandom", _urandom),
        (sqlite3, "connect", _sqlite_connect),
        (sqlite3.dbapi2, "connect", _sqlite_connect),
    ]
    _state.patch_aiosqlite = patch_aiosqlite
    anyio_patch = anyio_compat.worker_thread_patch(_in_simulation)
    if anyio_patch is not None:
        patches.append(anyio_patch)
    saved = []
    for owner, name, replacement in patches:
        if isinstance(owner, type):
            original = owner.__dict__.get(name, _INHERITED)
        else:
            original = getattr(owner, name)
        saved.append((owner, name, original))
        setattr(owner, name, replacement)
    _state.saved = saved
    _state.random_state = random.getstate()


def _uninstall() -> None:
    for owner, name, original in reversed(_state.saved):
        if original is _INHERITED:
            delattr(owner, name)
        else:
            setattr(owner, name, original)
    _state.saved = []
    if _state.random_state is not None:
        random.setstate(_state.random_state)  # type: ignore[arg-type]
        _state.random_state = None


@contextlib.contextmanager
def controlled(patch_aiosqlite: bool = True) -> Iterator[None]:
    """Install the patches for the duration of an exploration (re-entrant)."""
    if _state.depth == 0:
        _install(patch_aiosqlite)
    _state.depth += 1
    try:
        yield
    finally:
        _state.depth -= 1
        if _state.depth == 0:
            _uninstall()


def enter(world: World) -> None:
    """Make ``world`` the running schedule of this thread."""
    if _state.world is not None:
        from ._errors import HarnessError

        raise HarnessError(
            "a simulation is already running on this thread: explore, replay "
            "and check cannot be nested inside a body"
        )
    _state.world = world
    _state.thread = threading.get_ident()
    random.seed(world.sim_seed)


def leave() -> None:
    _state.world = None
