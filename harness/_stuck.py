"""What a stuck schedule reports: its unfinished tasks, where each waits, what is pending.

Used in deadlock and livelock errors; reads the loop's tasks and their
coroutine chains, never changes them.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from typing import Any

from ._ops import Op
from .trace import short


def describe_stuck(loop: asyncio.AbstractEventLoop | None, pending: Sequence[Op]) -> str:
    """``"task-2 at save (app.py:12) awaiting ...; pending operations: ..."``."""
    if loop is None:
        return "(no loop)"
    tasks = sorted(asyncio.all_tasks(loop), key=lambda t: t.get_name())
    parts = [f"{t.get_name()} at {where(t)}" for t in tasks if not t.done()]
    text = "; ".join(parts) if parts else "(no task)"
    if pending:
        text += "; pending operations: " + "; ".join(
            f"{op.channel.name}: {short(op.label, 40)} ({op.state.name.lower()})" for op in pending
        )
    return text


def where(task: asyncio.Task[Any]) -> str:
    """Where a task is suspended: its innermost user frame and what it awaits."""
    coro: Any = task.get_coro()
    user = inner = None
    library = (os.path.dirname(asyncio.__file__), os.path.dirname(os.path.abspath(__file__)))
    while coro is not None:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is not None:
            inner = frame
            if (
                not frame.f_code.co_filename.startswith(library)
                and "anyio" not in frame.f_code.co_filename
            ):
                user = frame
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    if inner is None:
        return "(not started)"
    shown = user or inner
    text = f"{shown.f_code.co_name} ({os.path.basename(shown.f_code.co_filename)}:{shown.f_lineno})"
    if inner is not shown:
        text += f" awaiting {inner.f_code.co_qualname}"
    return text
