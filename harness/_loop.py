"""The controlled event loop: asyncio's own scheduling, an environment under control.

:class:`ControlledLoop` is a real ``asyncio.BaseEventLoop``: tasks, futures,
handles, ``asyncio.Lock``/``Queue``, ``wait_for``, ``timeout``, anyio's asyncio
backend all run unmodified. Only ``_run_once`` — one iteration of the loop —
and the clock are replaced. One iteration, as in CPython::

    move due timers to the ready queue
    until the strategy lets the loop run:          (the "select" phase)
        take one environment action (execute/deliver/notify/fault/advance)
        -- with nothing ready and nothing pending, jump the clock to the next
           timer; with no timer either, the body is deadlocked
    ntodo = len(ready)                              (snapshot, as CPython does)
    for each of the ntodo callbacks, in FIFO order:
        the strategy may first take environment actions
        run the callback

So asyncio's guarantees hold exactly — callbacks run in FIFO order, tasks start
in creation order, callbacks scheduled during a batch run in the next batch —
and what varies is only what varies in the real world: *when* the
environment's events land in the ready queue (a worker thread's
``call_soon_threadsafe`` can land between any two callbacks) and how long
things take.

Virtual time: :meth:`time` returns a clock that never moves while callbacks
run (CPU time is taken as zero) and jumps to the next timer when the loop
would otherwise block. A 5 s ``busy_timeout`` or a 15 s watchdog costs no wall
time.

No real threads or sockets run inside: ``run_in_executor`` becomes an
environment operation, and I/O methods raise :class:`EscapeError`.
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import functools
import heapq
import threading
import weakref
from collections.abc import Callable, Coroutine, Generator
from concurrent.futures import Executor
from contextvars import Context
from typing import TYPE_CHECKING, Any, TypeVar

from ._thirdparty import asyncio as asyncio_compat
from .strategies import Alternative, ChoicePoint, Kind
from .trace import short

if TYPE_CHECKING:
    from ._world import World

_T = TypeVar("_T")


def _describe_call(func: Callable[..., Any]) -> str:
    name = getattr(func, "__qualname__", None) or getattr(func, "__name__", None)
    if name is None:
        inner = getattr(func, "func", None)  # functools.partial
        name = getattr(inner, "__qualname__", None) or type(func).__name__
    return str(name)


def _after_the_schedule(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """A released loop's exception handler (see :meth:`ControlledLoop.release`)."""


_task_init = asyncio.Task.__init__  # super().__init__, without the super() lookup
_future_init = asyncio.Future.__init__
_copy_context = contextvars.copy_context
_new_handle = asyncio.Handle.__new__
_HANDLE_INLINE = (
    asyncio.Handle.__slots__
    == (
        *("_callback", "_args", "_cancelled", "_loop"),
        *("_source_traceback", "_repr", "__weakref__", "_context"),
    )
    and "__init__" in asyncio.Handle.__dict__
)
"""``asyncio.Handle``'s state is the one its ``__init__`` sets in 3.11-3.13: built inline."""


class SimTask(asyncio.Task):  # type: ignore[type-arg]
    """A task whose hash is its creation number in the schedule, not its address.

    asyncio's ``TaskGroup``, anyio's cancel scopes and ``asyncio.wait`` keep
    tasks in *sets*; iterating one (cancelling a group, reading ``done``)
    follows the hashes, which for a plain task are memory addresses — an order
    that differs between runs. Numbered hashes make that order a function of
    the schedule, so it replays.
    """

    __slots__ = ("_harness_actor", "_harness_hash")  # no per-task dict for them

    def __init__(self, coro: Any, *, loop: Any, **kwargs: Any) -> None:
        # numbered before asyncio registers the task in its (weak) sets
        number = loop._serial = loop._serial + 1
        self._harness_hash = number
        _task_init(self, coro, loop=loop, **kwargs)

    def __hash__(self) -> int:
        return self._harness_hash  # type: ignore[no-any-return]

    __eq__ = object.__eq__


class SimFuture(asyncio.Future):  # type: ignore[type-arg]
    """A future hashed by its creation number (see :class:`SimTask`)."""

    __slots__ = ("_harness_hash",)

    def __init__(self, *, loop: Any) -> None:
        # the loop's count of tasks and futures (one future per statement)
        number = loop._serial = loop._serial + 1
        self._harness_hash = number
        _future_init(self, loop=loop)

    def __hash__(self) -> int:
        return self._harness_hash  # type: ignore[no-any-return]

    __eq__ = object.__eq__


# Named as asyncio names them: ``type(fut).__name__`` and every repr a body or a
# library prints ("<Task pending name=...>") read as on the stock loop.
SimTask.__name__ = SimTask.__qualname__ = "Task"
SimFuture.__name__ = SimFuture.__qualname__ = "Future"


@functools.cache
def _eager_sim_factory() -> Any:
    return asyncio.create_eager_task_factory(SimTask)  # type: ignore[attr-defined]


class ControlledLoop(asyncio.BaseEventLoop):
    """An asyncio loop whose environment and clock are driven by a :class:`World`."""

    if TYPE_CHECKING:  # BaseEventLoop's private state, which typeshed does not declare
        _ready: collections.deque[asyncio.Handle]
        _scheduled: list[Any]  # of asyncio.TimerHandle
        _timer_cancelled_count: int
        _stopping: bool
        _thread_id: int | None
        _task_factory: Any
        _asyncgens: Any
        _asyncgens_shutdown_called: bool
        _debug: bool
        _closed: bool

        def _check_closed(self) -> None: ...

    def __init__(self, world: World, start_time: float = 0.0) -> None:
        super().__init__()
        self._world = world
        self._clock = start_time
        self._task_count = 0
        self._serial = 0  # tasks and futures of this schedule, numbered (their hashes)
        self._agen_order: list[weakref.ref[Any]] = []  # async generators, as they started
        self._actor_names: dict[str, int] = {}
        self._tasks: list[asyncio.Task[Any]] = []
        self._chaos = world.config.chaos
        self.set_exception_handler(self._record_exception)
        # loop.create_future() without a Python frame of its own (aiosqlite calls it once
        # per statement): the same future as the create_future method below makes
        self.create_future = functools.partial(SimFuture, loop=self)  # type: ignore[method-assign]
        # and get_debug() (asked by every handle and future made) without a frame either
        self.get_debug = functools.partial(getattr, self, "_debug")  # type: ignore[method-assign]

    # ------------------------------------------------------------------ clock
    def time(self) -> float:
        return self._clock

    def next_timer(self) -> float | None:
        """When the earliest live timer is due, or None."""
        scheduled = self._scheduled
        while scheduled and scheduled[0]._cancelled:
            self._timer_cancelled_count -= 1
            heapq.heappop(scheduled)._scheduled = False
        return scheduled[0]._when if scheduled else None

    def advance(self) -> None:
        """Jump the clock to the next timer and make every due timer ready."""
        when = self.next_timer()
        if when is not None and when > self._clock:
            self._clock = when
        self._move_due_timers()

    def _move_due_timers(self) -> None:
        scheduled = self._scheduled
        while scheduled:
            handle = scheduled[0]
            if handle._cancelled:
                self._timer_cancelled_count -= 1
                heapq.heappop(scheduled)._scheduled = False
                continue
            if handle._when > self._clock:
                break
            heapq.heappop(scheduled)
            handle._scheduled = False
            self._ready.append(handle)

    def call_soon(  # type: ignore[override]
        self, callback: Callable[..., object], *args: Any, context: Context | None = None
    ) -> asyncio.Handle:
        """asyncio's ``call_soon`` (the same handle, queued the same way), one frame shorter."""
        if self._debug:
            return super().call_soon(callback, *args, context=context)
        if self._closed:
            raise RuntimeError("Event loop is closed")
        if not _HANDLE_INLINE:  # pragma: no cover - asyncio changed its Handle
            made = asyncio.Handle(callback, args, self, context)
            self._ready.append(made)
            return made
        # asyncio.Handle(callback, args, self, context), its __init__ inline (not in debug
        # mode: no source traceback); once per callback, the loop's most frequent call
        handle: Any = _new_handle(asyncio.Handle)
        handle._context = _copy_context() if context is None else context
        handle._loop = self
        handle._callback = callback
        handle._args = args
        handle._cancelled = False
        handle._repr = None
        handle._source_traceback = None
        self._ready.append(handle)
        return handle  # type: ignore[no-any-return]

    # ------------------------------------------------------------ iteration
    def _run_once(self) -> None:
        world = self._world
        ready = self._ready
        enabled = world._enabled  # the world's live map of enabled environment actions
        if self._scheduled:
            self._move_due_timers()
        if not ready and self._stopping:
            return
        step = world.step
        if enabled or not ready:  # else step(True) would let the first callback run at once
            while not step(bool(ready)):
                pass
        ntodo = len(ready)
        chaos = self._chaos
        task_types = asyncio_compat.TASK_TYPES
        bound_types = asyncio_compat.BOUND_METHOD_TYPES
        budget = world.config.max_steps
        for i in range(ntodo):
            if i and enabled:
                while not step(True):
                    pass
            if chaos and len(ready) > 1:
                self._perturb(ntodo - i)
            handle = ready.popleft()
            if handle._cancelled:
                continue
            world.steps += 1
            if world.steps > budget:
                world.count_step()  # raises LivelockError
            callback = handle._callback  # type: ignore[attr-defined]
            task = callback.__self__ if type(callback) in bound_types else None
            # task_of(handle), inline: a task step is what a decision's "turn" anchor counts
            if isinstance(task, task_types) and (not world.helpers or task not in world.helpers):
                world.turns += 1
            handle._run()

    def _perturb(self, remaining: int) -> None:
        """``chaos=True``: let the strategy pick which of this batch's callbacks runs next."""
        world = self._world
        count = min(remaining, len(self._ready), 8)
        if count < 2:
            return
        alts = [Alternative(Kind.RUN, "loop", None, k) for k in range(count)]
        anchor = (world.semantic_events, world.offers, world.turns)
        index = world.strategy.choose(ChoicePoint(len(world.decisions), alts, False, anchor))
        world.decisions.append((index, count))
        world.decision_keys.append(("run", "loop", index, None))
        world.offers += 1
        if index:
            world.record_deviation(anchor, ("run", "loop", index, None))
            ready = self._ready
            handle = ready[index]
            del ready[index]
            ready.appendleft(handle)

    # ------------------------------------------------------------------ tasks
    def create_task(  # type: ignore[override]
        self,
        coro: Coroutine[Any, Any, _T] | Generator[Any, None, _T],
        *,
        name: str | None = None,
        context: Context | None = None,
        **kwargs: Any,
    ) -> asyncio.Task[_T]:
        """Create a task with a deterministic default name (``task-N`` per schedule).

        Its name in timelines (its *actor*) is that name, made unique within the
        schedule (``worker``, ``worker#2`` — anyio names tasks after their
        function); the task itself keeps the name it was given. 3.11's
        ``wait_for`` helper task is named after the task it serves and is not a
        task of its own (see ``harness._thirdparty.asyncio``).
        """
        self._check_closed()
        world = self._world
        parent = world.current_actor()
        what = getattr(coro, "__qualname__", None) or type(coro).__name__  # as it names itself
        helper = asyncio_compat.created_by_wait_for()
        if helper:
            actor = parent
            if name is None:
                name = f"{parent}/wait_for"
        else:
            self._task_count += 1  # every task counts (main is task 1), as timelines number them
            if name is None:
                name = actor = f"task-{self._task_count}"
            else:
                actor = self._unique_actor(name)
            world.event(parent, "spawn", f"{actor} ({what})", fields=(actor,))
        factory: Any = self._task_factory
        if factory is not None and factory is getattr(asyncio, "eager_task_factory", None):
            factory = _eager_sim_factory()  # the same factory, making numbered tasks
        if factory is None:
            task: asyncio.Task[_T] = SimTask(coro, loop=self, name=name, context=context, **kwargs)
        elif asyncio_compat.factory_takes_name(factory):
            task = factory(self, coro, name=name, context=context, **kwargs)
        else:
            task = factory(self, coro) if context is None else factory(self, coro, context=context)
            task.set_name(name)
        task._harness_actor = actor  # type: ignore[attr-defined]  # its name in timelines
        if helper:
            world.helpers.add(task)
            world.event(parent, "spawn", f"{name} ({what}, asyncio's wait_for helper)")
        self._tasks.append(task)
        return task

    def _unique_actor(self, name: str) -> str:
        seen = self._actor_names.get(name, 0) + 1
        self._actor_names[name] = seen
        return name if seen == 1 else f"{name}#{seen}"

    def create_future(self) -> asyncio.Future[Any]:
        """A future whose hash is its creation number (see :class:`SimTask`)."""
        return SimFuture(loop=self)

    def release(self) -> None:
        """The schedule ended: drop the references that make the loop part of cycles.

        Its tasks (which point back at it), the future factory and the exception
        handler bound to it. A loop is released once closed; a stale task still
        holding it finds it closed, as on asyncio. What its tasks' futures report
        as they are freed now (an exception nobody retrieved, in an incarnation a
        crash abandoned) is dropped, as it was when the collector freed them after
        the schedule: the schedule's record is complete.
        """
        self._exception_handler = _after_the_schedule  # first: freeing below may report
        self._tasks = []
        self._agen_order = []
        self.__dict__.pop("create_future", None)
        self.__dict__.pop("get_debug", None)
        self._ready.clear()
        self._scheduled.clear()

    def _asyncgen_firstiter_hook(self, agen: Any) -> None:
        super()._asyncgen_firstiter_hook(agen)  # type: ignore[misc]
        self._agen_order.append(weakref.ref(agen))

    async def shutdown_asyncgens(self) -> None:
        """asyncio's shutdown, closing generators in the order they started (not set order)."""
        self._asyncgens_shutdown_called = True
        alive = [ref() for ref in self._agen_order]
        closing = [agen for agen in alive if agen is not None and agen in self._asyncgens]
        self._asyncgens.clear()
        self._agen_order = []
        if not closing:
            return
        results = await asyncio.gather(*[agen.aclose() for agen in closing], return_exceptions=True)
        for result, agen in zip(results, closing, strict=True):
            if isinstance(result, Exception):
                self.call_exception_handler(
                    {
                        "message": f"an error occurred during closing of asynchronous generator "
                        f"{agen!r}",
                        "exception": result,
                        "asyncgen": agen,
                    }
                )

    def created_tasks(self) -> list[asyncio.Task[Any]]:
        """Every task created on this loop, in creation order."""
        return list(self._tasks)

    def _record_exception(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        message = str(context.get("message", "unhandled error"))
        error = context.get("exception")
        if error is not None:
            message += f": {type(error).__name__}: {error}"
        self._world.loop_errors.append(message)

    # --------------------------------------------------------- environment
    def run_in_executor(  # type: ignore[override]
        self, executor: Executor | None, func: Callable[..., _T], *args: Any
    ) -> asyncio.Future[_T]:
        """Run ``func`` as an environment operation of the simulated pool (no thread)."""
        self._check_closed()
        label = short(f"{_describe_call(func)}()", 60)
        return self._world.submit_call(label, lambda: func(*args))

    def set_default_executor(self, executor: Any) -> None:
        return None

    def call_soon_threadsafe(  # type: ignore[override]
        self, callback: Callable[..., object], *args: Any, context: Context | None = None
    ) -> asyncio.Handle:
        if self._thread_id is not None and threading.get_ident() != self._thread_id:
            raise self._world.escape(
                f"call_soon_threadsafe({_describe_call(callback)}) from another thread"
            )
        return self.call_soon(callback, *args, context=context)

    def _write_to_self(self) -> None:
        return None

    def _process_events(self, event_list: Any) -> None:
        return None

    def _escape(self, what: str) -> Any:
        raise self._world.escape(what)


def _escaping(name: str, what: str, is_async: bool) -> Callable[..., Any]:
    if is_async:

        async def escape_async(self: ControlledLoop, *args: Any, **kwargs: Any) -> Any:
            return self._escape(f"{name} ({what})")

        escape_async.__name__ = name
        return escape_async

    def escape(self: ControlledLoop, *args: Any, **kwargs: Any) -> Any:
        return self._escape(f"{name} ({what})")

    escape.__name__ = name
    return escape


# Real I/O would escape the simulation: each of these raises EscapeError naming itself.
for _name, _what, _is_async in (
    ("getaddrinfo", "real network", True),
    ("getnameinfo", "real network", True),
    ("create_connection", "a real socket", True),
    ("create_server", "a real socket", True),
    ("create_unix_connection", "a real socket", True),
    ("create_unix_server", "a real socket", True),
    ("create_datagram_endpoint", "a real socket", True),
    ("connect_accepted_socket", "a real socket", True),
    ("sock_connect", "a real socket", True),
    ("sock_recv", "a real socket", True),
    ("sock_sendall", "a real socket", True),
    ("sock_accept", "a real socket", True),
    ("sendfile", "real I/O", True),
    ("start_tls", "real I/O", True),
    ("subprocess_exec", "a real process", True),
    ("subprocess_shell", "a real process", True),
    ("connect_read_pipe", "real I/O", True),
    ("connect_write_pipe", "real I/O", True),
    ("add_reader", "real I/O", False),
    ("add_writer", "real I/O", False),
    ("add_signal_handler", "real signals", False),
):
    setattr(ControlledLoop, _name, _escaping(_name, _what, _is_async))
