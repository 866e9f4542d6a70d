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
* Virtual time (``harness._clock``): ``time.time``, ``monotonic``,
  ``perf_counter`` (and ``_ns``), ``localtime``/``gmtime``/``strftime``/
  ``ctime``/``asctime`` and ``datetime.datetime.now``/``today``/``utcnow``,
  ``datetime.date.today`` follow the virtual clock (time zone UTC), so code
  that stores or compares timestamps agrees with ``asyncio.sleep``.
* The module-level ``random`` is seeded per schedule (its draws become part of
  the schedule); its state is restored afterwards.
* Escapes raise :class:`EscapeError`: starting a real thread, ``time.sleep``
  on the loop, a real socket (``connect``, ``sendto``, name resolution), a
  subprocess (``subprocess``, ``os.system``, ``os.fork``, ``os.posix_spawn``).
  ``anyio.to_thread.run_sync`` becomes a simulated pool operation instead of
  a thread, and ``time.sleep`` inside pool work (``to_thread``,
  ``run_in_executor``) takes that much virtual time, as on a worker thread.
* What harness cannot control but can see is recorded as a non-determinism
  suspect, named if a replay diverges: ``os.urandom`` (``uuid.uuid4``),
  ``random.SystemRandom`` and ``secrets``, an unseeded ``random.Random()``,
  ``tempfile``'s random names.
"""

from __future__ import annotations

import _random
import _sqlite3
import contextlib
import gc
import os
import random
import socket
import sqlite3
import sqlite3.dbapi2
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from ._clock import EPOCH, MONOTONIC_BASE, TIME_PATCHES, DatetimeSwap, virtual, virtual_ns
from ._context import current_world as _current_world
from ._context import state as _context_state
from ._errors import HarnessError
from ._thirdparty import aiosqlite as aiosqlite_compat
from ._thirdparty import anyio as anyio_compat
from .sqlite._capi import prepare as prepare_sqlite
from .sqlite._layer import layer_of
from .trace import short

_datetimes = DatetimeSwap()

if TYPE_CHECKING:
    from ._world import World

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
_orig_random_seed = random.Random.seed
_c_random_seed = _random.Random.seed  # random.Random.seed(int) is this, then gauss_next = None
_orig_tempfile_next = tempfile._RandomNameSequence.__next__  # type: ignore[attr-defined]
_orig_sqlite_connect: Callable[..., sqlite3.Connection] = _sqlite3.connect


_INHERITED = object()  # the patched attribute was inherited: restore by deleting ours


_state = _context_state


current_world: Callable[[], World | None] = _current_world
"""The world of the schedule running on this thread, if any (no wrapper frame)."""


def _sleep(seconds: float) -> None:
    world = current_world()
    if world is None:
        return _orig_sleep(seconds)
    if world.pool_job is not None:  # inside to_thread / run_in_executor work: a worker sleeps
        world.pool_job.delay += max(0.0, float(seconds))
        return None
    raise world.escape(
        f"time.sleep({seconds!r}) blocks on the wall clock; use 'await asyncio.sleep({seconds!r})'"
    )


def _thread_start(self: threading.Thread) -> None:
    world = current_world()
    if world is None:
        return _orig_thread_start(self)
    conn = aiosqlite_compat.connection_of_thread(self)
    if conn is not None and _state.patch_aiosqlite:
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


def _suspect(what: str) -> None:
    world = current_world()
    if world is not None and what not in world.suspects:
        world.suspects.append(what)


def _urandom(size: int) -> bytes:
    _suspect("os.urandom (behind uuid.uuid4)")
    return _orig_urandom(size)


def _system_urandom(size: int) -> bytes:
    _suspect("random.SystemRandom / secrets (draws from the OS)")
    return _orig_urandom(size)


def _seed(self: random.Random, a: Any = None, version: int = 2) -> None:
    if type(a) is int:  # what random.Random.seed does with an int, without its frame
        _c_random_seed(self, a)
        self.gauss_next = None  # type: ignore[attr-defined]
        return
    if a is None and current_world() is not None:
        _suspect("an unseeded random.Random() (seeded from the OS; use sim.random)")
    _orig_random_seed(self, a, version)


def _tempfile_name(self: Any) -> str:
    _suspect("tempfile's random file names")
    name: str = _orig_tempfile_next(self)
    return name


def _escaping(what: str, orig: Callable[..., Any]) -> Callable[..., Any]:
    def escape(*args: Any, **kwargs: Any) -> Any:
        world = current_world()
        if world is None:
            return orig(*args, **kwargs)
        raise world.escape(what)

    escape.__name__ = getattr(orig, "__name__", "escape")
    return escape


def _escaping_method(what: Callable[[Any], str], orig: Callable[..., Any]) -> Callable[..., Any]:
    def escape(self: Any, *args: Any, **kwargs: Any) -> Any:
        world = current_world()
        if world is None:
            return orig(self, *args, **kwargs)
        raise world.escape(what(args))

    escape.__name__ = getattr(orig, "__name__", "escape")
    return escape


def _sqlite_connect(database: Any, *args: Any, **kwargs: Any) -> sqlite3.Connection:
    world = current_world()
    if world is None:
        return _orig_sqlite_connect(database, *args, **kwargs)
    connection: sqlite3.Connection = layer_of(world).open_real(database, args, kwargs)
    return connection


def _scope_numbers() -> anyio_compat.ScopeNumbers | None:
    world = current_world()
    return None if world is None else world.scope_numbers


def _in_simulation() -> bool:
    return current_world() is not None


def _escapes() -> list[tuple[object, str, object]]:
    """Real I/O a body must not do inside a simulation: each raises EscapeError."""
    patches: list[tuple[object, str, object]] = []
    for name in ("getaddrinfo", "gethostbyname", "gethostbyname_ex", "gethostbyaddr"):
        if hasattr(socket, name):
            what = f"socket.{name}() (real name resolution)"
            patches.append((socket, name, _escaping(what, getattr(socket, name))))
    for name in ("sendto", "sendmsg", "bind", "connect_ex"):
        orig = getattr(socket.socket, name, None)
        if orig is not None:
            patches.append((socket.socket, name, _escaping_method(_socket_use(name), orig)))
    execute_child = getattr(subprocess.Popen, "_execute_child", None)
    if execute_child is not None:
        patches.append(
            (subprocess.Popen, "_execute_child", _escaping_method(_process, execute_child))
        )
    for name in ("system", "fork", "forkpty", "posix_spawn", "posix_spawnp"):
        if hasattr(os, name):
            what = f"os.{name}() (a real process)"
            patches.append((os, name, _escaping(what, getattr(os, name))))
    return patches


def _socket_use(method: str) -> Callable[[tuple[Any, ...]], str]:
    def describe(args: tuple[Any, ...]) -> str:
        return f"socket.{method}{short(repr(args), 60)} (a real socket)"

    return describe


def _process(args: tuple[Any, ...]) -> str:
    command = args[0] if args else "?"
    text = " ".join(map(str, command)) if isinstance(command, list | tuple) else str(command)
    return f"a subprocess was started ({short(text, 60)})"


def _install(patch_aiosqlite: bool) -> None:
    patches: list[tuple[object, str, object]] = [
        (time, "time", virtual(_orig_time, EPOCH)),
        (time, "time_ns", virtual_ns(_orig_time_ns, EPOCH)),
        (time, "monotonic", virtual(_orig_monotonic, MONOTONIC_BASE)),
        (time, "monotonic_ns", virtual_ns(_orig_monotonic_ns, MONOTONIC_BASE)),
        (time, "perf_counter", virtual(_orig_perf_counter, MONOTONIC_BASE)),
        (time, "perf_counter_ns", virtual_ns(_orig_perf_counter_ns, MONOTONIC_BASE)),
        *((time, name, function) for name, function in TIME_PATCHES),
        (time, "sleep", _sleep),
        (threading.Thread, "start", _thread_start),
        (socket.socket, "connect", _socket_connect),
        (os, "urandom", _urandom),
        (random, "_urandom", _system_urandom),
        (random.Random, "seed", _seed),
        (tempfile._RandomNameSequence, "__next__", _tempfile_name),  # type: ignore[attr-defined]
        (sqlite3, "connect", _sqlite_connect),
        (sqlite3.dbapi2, "connect", _sqlite_connect),
        *_escapes(),
    ]
    _state.patch_aiosqlite = patch_aiosqlite
    for anyio_patch in (
        anyio_compat.worker_thread_patch(_in_simulation),
        anyio_compat.cancel_scope_hash_patch(_scope_numbers),
    ):
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
    _state.thread_patch_pending = patch_aiosqlite
    _patch_worker_thread()
    _state.random_state = random.getstate()
    _datetimes.install()
    _state.froze_heap = _freeze_heap()


def _patch_worker_thread() -> None:
    """aiosqlite 0.22's ``Thread`` made cheap inside simulations, once aiosqlite is imported.

    Asked at the install and at the start of every schedule until aiosqlite has
    been imported (a body often imports it in its first schedule); undone with
    the other patches. Behaviour is the same before and after (see
    ``harness._thirdparty.aiosqlite.worker_thread_patch``): only the cost differs.
    """
    if "aiosqlite.core" not in sys.modules:
        return
    _state.thread_patch_pending = False
    patch = aiosqlite_compat.worker_thread_patch(_in_simulation)
    if patch is not None:
        owner, name, replacement = patch
        _state.saved.append((owner, name, getattr(owner, name)))
        setattr(owner, name, replacement)


def _freeze_heap() -> bool:
    """Keep the objects that exist before the exploration out of every collection in it.

    Schedules make cyclic garbage (a loop and its tasks, a worker and its
    connection) that the collector frees in young generations; its occasional
    full collections would also scan everything the program had already
    imported (tens of thousands of objects), once per so many schedules. The
    objects are moved back (``gc.unfreeze``) when the exploration ends; one
    that dies in between is freed then. A program that froze objects itself
    (``gc.freeze`` before forking), or an interpreter that did (CPython 3.12
    starts with some objects frozen), is left as it is: harness never
    unfreezes what it did not freeze.
    """
    if not gc.isenabled() or gc.get_freeze_count():
        return False
    gc.freeze()
    return True


def _uninstall() -> None:
    if _state.froze_heap:
        _state.froze_heap = False
        gc.unfreeze()
    _datetimes.uninstall()
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
        prepare_sqlite()  # its probes must not run inside a schedule
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
        raise HarnessError(
            "a simulation is already running on this thread: explore, replay "
            "and check cannot be nested inside a body"
        )
    _state.world = world
    _state.thread = threading.get_ident()
    random.seed(world.sim_seed)
    # the cyclic garbage collector runs __del__ methods (aiosqlite's stops its worker) at
    # moments no schedule controls: only reference counting frees objects in a schedule
    _state.gc_was_enabled = gc.isenabled()
    gc.disable()
    _datetimes.refresh()  # modules imported since the exploration began
    if _state.thread_patch_pending:
        _patch_worker_thread()


def leave() -> None:
    """This thread runs no schedule any more (the collector stays off: see :func:`resume_gc`)."""
    _state.world = None


def resume_gc() -> None:
    """Turn the cyclic collector back on, as it was before :func:`enter`.

    Called once the schedule's objects are unreachable (after ``run_schedule``'s
    frame is gone), so its first collection frees them instead of promoting
    them, still referenced, to an older generation that is scanned again later.
    """
    if _state.gc_was_enabled:
        _state.gc_was_enabled = False
        gc.enable()
