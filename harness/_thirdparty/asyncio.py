"""CPython's asyncio internals that the controlled loop relies on (3.11 to 3.13).

=======  ========================================================================
Python   what differs, and what harness does about it
=======  ========================================================================
3.11     ``asyncio.wait_for(coro, t)`` wraps ``coro`` in a helper Task (created in
         ``asyncio.tasks.wait_for``); 3.12 runs it inline under ``timeout()``. The
         helper is named after the task it serves and is not counted as a task of
         its own, so names and semantic events agree across versions.
3.12+    ``loop.set_task_factory(asyncio.eager_task_factory)``: a task's first step
         runs inside ``create_task``; the factory takes ``name=``/``context=``, so
         the name is set before that step runs.
all      A ready handle whose callback is a task step has the Task as the
         callback's ``__self__`` (``TaskStepMethWrapper``, ``task_wakeup``, or the
         pure-Python ``Task.__step``/``__wakeup`` bound methods).
         ``BaseEventLoop`` keeps ``_ready`` (a deque of handles), ``_scheduled``
         (a heap of ``TimerHandle``), ``_timer_cancelled_count``, ``_stopping``,
         ``_thread_id``, ``_task_factory`` and ``_asyncgens``; ``_run_once`` is one
         iteration (see ``harness._loop``).
=======  ========================================================================
"""

from __future__ import annotations

import asyncio
import asyncio.tasks
import inspect
import os
import sys
import types
from typing import Any

SUPPORTED = ("3.11", "3.12", "3.13")
_TASKS_FILE = os.path.normcase(os.path.abspath(asyncio.tasks.__file__))
TASK_TYPES: tuple[type, ...] = tuple(
    t for t in (asyncio.Task, getattr(asyncio.tasks, "_PyTask", None)) if isinstance(t, type)
)
"""The task classes (C and pure Python): a ready handle whose callback's ``__self__``
is one of them runs a task step (see :func:`task_of`)."""


def _current_task_reader() -> Any:
    current = asyncio.current_task
    tasks = getattr(asyncio.tasks, "_current_tasks", None)
    if (
        sys.version_info < (3, 12)
        and isinstance(tasks, dict)
        and type(current) is types.FunctionType  # the Python function reading that dict
    ):
        return tasks.get  # the same lookup, without its frame (once per statement)
    return current  # 3.12+: a C function already


current_task_of: Any = _current_task_reader()
"""``asyncio.current_task(loop)`` for a given loop: the task it is running, or None.

3.11's ``current_task`` is a Python function that reads ``_current_tasks`` (the
C module's dict, which ``_enter_task`` and ``_leave_task`` keep); this reads the
dict directly. 3.12 and later have a C ``current_task``.
"""


def created_by_wait_for() -> bool:
    """Whether the task being created is 3.11's ``wait_for`` helper (see the table)."""
    if sys.version_info >= (3, 12):
        return False
    frame: Any = sys._getframe(2)  # whoever called loop.create_task
    if _ENSURE_CODE is not None and _ENSURE_PUBLIC_CODE is not None:
        # 3.11's wait_for -> ensure_future -> _ensure_future -> loop.create_task, always:
        # anything else (gather calls _ensure_future itself) is not the helper
        if frame.f_code is not _ENSURE_CODE:
            return False
        outer = frame.f_back
        if outer is None or outer.f_code is not _ENSURE_PUBLIC_CODE:
            return False
    for _ in range(6):
        if frame is None:
            return False
        code = frame.f_code
        if code is _WAIT_FOR_CODE or (
            code.co_name == "wait_for"
            and os.path.normcase(os.path.abspath(code.co_filename)) == _TASKS_FILE
        ):
            return True
        frame = frame.f_back
    return False


_WAIT_FOR_CODE = getattr(asyncio.tasks.wait_for, "__code__", None)  # the usual case, at once
# 3.11's wait_for -> ensure_future -> _ensure_future -> loop.create_task: the helper's path
_ENSURE_CODE = getattr(getattr(asyncio.tasks, "_ensure_future", None), "__code__", None)
_ENSURE_PUBLIC_CODE = getattr(asyncio.tasks.ensure_future, "__code__", None)


def task_of(handle: asyncio.Handle) -> Any | None:
    """The Task whose step a ready handle runs, or None for any other callback."""
    callback = handle._callback  # type: ignore[attr-defined]
    owner = callback.__self__ if type(callback) in BOUND_METHOD_TYPES else None
    return owner if isinstance(owner, TASK_TYPES) else None


BOUND_METHOD_TYPES = (types.BuiltinMethodType, types.MethodType)
"""What a task step's callback is (``task.__step``/``__wakeup``, C or Python): a bound method."""


_FACTORY_TAKES_NAME: dict[object, bool] = {}


def factory_takes_name(factory: Any) -> bool:
    """Whether a task factory accepts ``name=`` (3.12's eager factory does)."""
    known = _FACTORY_TAKES_NAME.get(factory)
    if known is None:
        try:
            parameters = inspect.signature(factory).parameters.values()
        except (TypeError, ValueError):
            known = False
        else:
            known = any(
                p.name == "name" or p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters
            )
        _FACTORY_TAKES_NAME[factory] = known
    return known
