"""aiosqlite's internals that the simulated worker thread relies on.

harness keeps ``aiosqlite.Connection`` whole — its ``__init__``, its job
queue ``_tx``, its ``_thread``, ``_running``, ``stop()``, ``close()``,
``__await__`` and every public method are aiosqlite's own code — and replaces
only the worker *thread*: when aiosqlite starts it inside a simulation, a
simulated worker takes the jobs put on ``_tx`` at steps the strategy chooses.
That needs these facts, per version:

========  ==============================  ===========================  ==========================
aiosqlite the worker thread                jobs on ``_tx``              how the worker stops
========  ==============================  ===========================  ==========================
0.19      the ``Connection`` (a Thread)    ``(future, fn)``             ``_running`` is false and
                                                                        the queue is empty (it polls
                                                                        ``get(timeout=0.1)``)
0.20-0.21 the ``Connection`` (a Thread)    ``(future, fn)``, or         the sentinel item
                                           ``_STOP_RUNNING_SENTINEL``
0.22      ``_thread = Thread(target=       ``(future or None, fn)``     a job (``stop()``'s
          _connection_worker_thread)``                                  ``close_and_stop``) returns
                                                                        ``_STOP_RUNNING_SENTINEL``
========  ==============================  ===========================  ==========================

In every version: ``__await__`` starts the thread, then ``_connect`` puts
``(future, self._connector)``; the worker runs ``result = fn()`` and hands
the result back with ``future.get_loop().call_soon_threadsafe(set_result,
future, result)`` (or ``set_exception``), skipping futures already done;
``aiosqlite.connect`` builds ``connector`` as a closure over ``database``
that calls ``sqlite3.connect(str-ish database, **kwargs)``.

Nothing here holds a module object from import time: classes and functions
are looked up in ``sys.modules`` when needed, so a re-imported aiosqlite
(pytester restores ``sys.modules`` between inner runs) is recognised too.
"""

from __future__ import annotations

import functools
import sys
import threading
from collections.abc import Callable
from typing import Any

SUPPORTED = ("0.19", "0.20", "0.21", "0.22")
"""The aiosqlite release series the simulated worker is tested with."""

_CORE = "aiosqlite.core"


def _core() -> Any:
    return sys.modules.get(_CORE)


def version() -> str:
    """The installed aiosqlite version (``"0.22.1"``), or ``""`` if it is not imported."""
    module = sys.modules.get("aiosqlite")
    return str(getattr(module, "__version__", "")) if module is not None else ""


def is_connection(obj: object) -> bool:
    """Whether ``obj`` is an ``aiosqlite.Connection`` (of any loaded copy of aiosqlite)."""
    kind = type(obj)
    known = _CONNECTION_TYPES.get(kind)
    if known is None:  # a property of the class alone: asked once per class
        core = _core()
        cls = getattr(core, "Connection", None) if core is not None else None
        known = (cls is not None and issubclass(kind, cls)) or any(
            klass.__name__ == "Connection" and klass.__module__ == _CORE for klass in kind.__mro__
        )
        _CONNECTION_TYPES[kind] = known
    return known


_CONNECTION_TYPES: dict[type, bool] = {}


def _is_worker_target(target: object) -> bool:
    return (
        getattr(target, "__name__", None) == "_connection_worker_thread"
        and getattr(target, "__module__", None) == _CORE
    )


def connection_of_thread(thread: threading.Thread) -> Any | None:
    """The ``aiosqlite.Connection`` whose worker ``thread`` is, or None.

    0.19-0.21: the connection *is* the thread. 0.22: the thread's target is
    ``_connection_worker_thread``; the connection is the ``self`` of the frame
    that starts it (``Connection.__await__``) — the thread object itself does
    not point back to its connection.
    """
    if is_connection(thread):
        return thread
    if not _is_worker_target(getattr(thread, "_target", None)):
        return None
    frame: Any = sys._getframe(1)
    for _ in range(8):
        if frame is None:
            break
        candidate = frame.f_locals.get("self")
        if candidate is not None and getattr(candidate, "_thread", None) is thread:
            return candidate
        frame = frame.f_back
    return None


def stop_sentinel_of(conn: Any) -> object:
    """The ``_STOP_RUNNING_SENTINEL`` of the aiosqlite copy that defined ``conn``'s class.

    Taken from the class's own module globals, not from ``sys.modules``: after a
    ``sys.modules`` restore, a connection may come from an aiosqlite that is no
    longer the one importable by name (0.19 has no sentinel: a fresh object).
    """
    kind = type(conn)
    sentinel = _SENTINELS.get(kind)
    if sentinel is None:  # the class's module's constant: looked up once per class
        sentinel = _NO_SENTINEL
        for klass in kind.__mro__:
            init = klass.__dict__.get("__init__")
            module_globals = getattr(init, "__globals__", None)
            if module_globals is not None and module_globals.get("__name__") == _CORE:
                sentinel = module_globals.get("_STOP_RUNNING_SENTINEL", _NO_SENTINEL)
                break
        _SENTINELS[kind] = sentinel
    return sentinel


_SENTINELS: dict[type, object] = {}


NO_SENTINEL = _NO_SENTINEL = object()
"""What :func:`stop_sentinel_of` returns for 0.19, which stops its worker when idle."""


def connector_of(conn: Any) -> Any:
    """The connection's connector (the first job its ``_connect`` puts on the queue)."""
    return getattr(conn, "_connector", None)


def database_of(connector: Any) -> str | None:
    """The ``database`` argument ``aiosqlite.connect`` closed over, as its connector sees it."""
    code = getattr(connector, "__code__", None)
    cells = getattr(connector, "__closure__", None)
    if code is None or not cells or "database" not in code.co_freevars:
        return None
    try:
        database = cells[code.co_freevars.index("database")].cell_contents
    except ValueError:  # an empty cell
        return None
    if isinstance(database, bytes):
        return database.decode("utf-8", "replace")
    return str(database)


def is_stop_job(function: Any) -> bool:
    """0.22's ``stop()`` job (``close_and_stop``): closes the connection, stops the worker."""
    return getattr(function, "__name__", None) == "close_and_stop" and (
        getattr(function, "__module__", None) == _CORE
    )


def looks_open(conn: Any) -> bool:
    """Whether aiosqlite believes the connection is open (its ``__del__`` would warn)."""
    return getattr(conn, "_connection", None) is not None


def forget_connection(conn: Any) -> None:
    """The connection's process ended: aiosqlite must not find it open (``__del__`` warns)."""
    conn._connection = None
    conn._running = False


def job_queue(conn: Any) -> Any:
    """The connection's job queue (``_tx``)."""
    return conn._tx


def set_job_queue(conn: Any, queue: Any) -> None:
    """Replace the connection's job queue (done once, when its worker starts)."""
    conn._tx = queue


# ------------------------------------------------------ 0.22's worker Thread
@functools.cache
def _template_state() -> dict[str, Any]:
    """The instance state of one real, never-started ``threading.Thread`` (made once)."""
    # named, so no number of threading's "Thread-N" counter is used up
    return dict(vars(threading.Thread(name="harness-template", daemon=False)))


def worker_thread_patch(in_simulation: Callable[[], bool]) -> tuple[object, str, object] | None:
    """``(aiosqlite.core, "Thread", a cheaper Thread)`` for 0.22; None for 0.19-0.21 or none.

    aiosqlite 0.22 builds ``self._thread = Thread(...)`` in every
    ``Connection.__init__``. A real ``Thread`` costs about 40k instructions to
    make and free (its ``Event``'s ``Condition`` raises three ``AttributeError``
    on a plain lock; the excepthook closure; the dangling-thread set), as much
    as the rest of a simulated connection's opening. Inside a simulation the
    thread never starts (harness's worker takes its jobs), so the replacement
    skips that state and shares the never-set state of one real unstarted
    thread. What a caller sees is a real unstarted ``Thread``'s: an instance of
    ``threading.Thread`` named from the same counter (``Thread-7
    (_connection_worker_thread)``), ``daemon`` settable (SQLAlchemy sets it),
    ``ident`` None, ``is_alive()`` False, ``join()`` refused, the same repr.
    Started outside a simulation (a connection made in one and awaited after
    it), it first takes state of its own, so it runs as a real thread.
    """
    core = _core()
    connection = getattr(core, "Connection", None) if core is not None else None
    if (
        connection is None
        or getattr(core, "Thread", None) is not threading.Thread
        or issubclass(connection, threading.Thread)  # 0.19-0.21: the connection is the thread
    ):
        return None
    found = getattr(threading, "_newname", None)  # how Thread.__init__ names a thread
    if found is None:  # pragma: no cover - threading changed
        return None
    newname: Callable[[str], str] = found
    template = _template_state()
    shared_started = template.get("_started")

    class Thread(threading.Thread):
        __doc__ = worker_thread_patch.__doc__

        def __init__(
            self,
            group: None = None,
            target: Callable[..., object] | None = None,
            name: str | None = None,
            args: Any = (),
            kwargs: dict[str, Any] | None = None,
            *,
            daemon: bool | None = None,
        ) -> None:
            if group is not None or not in_simulation():
                threading.Thread.__init__(self, group, target, name, args, kwargs, daemon=daemon)
                return
            self.__dict__.update(template)
            if name:
                name = str(name)
            else:  # as Thread.__init__ names it
                name = newname("Thread-%d")
                target_name = getattr(target, "__name__", None)
                if target_name is not None:
                    name += f" ({target_name})"
            self._target = target
            self._name = name
            self._args = args
            self._kwargs = {} if kwargs is None else kwargs
            self._daemonic = threading.current_thread().daemon if daemon is None else daemon

        def start(self) -> None:
            if self.__dict__.get("_started") is shared_started and not in_simulation():
                threading.Thread.__init__(  # state of its own before a real thread uses it
                    self,
                    target=self._target,
                    name=self._name,
                    args=self._args,
                    kwargs=self._kwargs,
                    daemon=self._daemonic,
                )
            threading.Thread.start(self)

    Thread.__qualname__ = "Thread"  # its repr and type read as threading's own
    Thread.__module__ = threading.__name__
    return core, "Thread", Thread
