"""anyio's internals that harness relies on: where ``to_thread`` starts a thread.

=====  ==========================================================================
anyio  what harness uses
=====  ==========================================================================
4.x    ``anyio._core._eventloop.get_async_backend("asyncio")`` returns the backend
       class anyio actually uses (cached in ``loaded_backends``, which survives a
       ``sys.modules`` restore); its classmethod ``run_sync_in_worker_thread(func,
       args, abandon_on_cancel=False, limiter=None)`` is what ``to_thread.run_sync``
       calls; ``checkpoint`` and ``current_default_thread_limiter`` are classmethods
=====  ==========================================================================

Inside a simulation harness replaces that one classmethod, so the work runs as
a simulated pool operation (``loop.run_in_executor``) instead of a thread.

4.x    ``CancelScope`` (``__slots__``, no weak references) keeps its child scopes
       in a set and delivers cancellation in that set's order. Inside a
       simulation a scope hashes by the order in which it was first hashed in
       the schedule (a table the schedule clears), so that order replays.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

SUPPORTED = ("4",)


def asyncio_backend() -> Any | None:
    """The asyncio backend class anyio uses now (None if anyio is not installed)."""
    try:
        from anyio._core._eventloop import get_async_backend
    except ImportError:  # pragma: no cover - anyio is a dependency
        return None
    try:
        return get_async_backend("asyncio")
    except Exception:  # pragma: no cover - anyio changed
        return None


class ScopeNumbers:
    """Deterministic hashes for anyio's cancel scopes within one schedule."""

    def __init__(self) -> None:
        self._numbers: dict[int, tuple[object, int]] = {}  # id -> (scope kept alive, number)

    def number(self, scope: object) -> int:
        kept = self._numbers.get(id(scope))
        if kept is None or kept[0] is not scope:
            kept = self._numbers[id(scope)] = (scope, len(self._numbers) + 1)
        return kept[1]

    def clear(self) -> None:
        self._numbers.clear()


def cancel_scope_hash_patch(
    numbers: Callable[[], ScopeNumbers | None],
) -> tuple[object, str, object] | None:
    """``(CancelScope, "__hash__", replacement)``: numbered inside a simulation."""
    backend = asyncio_backend()
    factory = backend.__dict__.get("create_cancel_scope") if backend is not None else None
    function = getattr(factory, "__func__", None)
    scope_class = getattr(function, "__globals__", {}).get("CancelScope")
    if not isinstance(scope_class, type):  # pragma: no cover - anyio changed
        return None
    original: Callable[[Any], int] = scope_class.__hash__  # type: ignore[assignment]

    def __hash__(self: Any) -> int:
        table = numbers()
        return original(self) if table is None else table.number(self)

    return scope_class, "__hash__", __hash__


def worker_thread_patch(
    in_simulation: Callable[[], bool],
) -> tuple[object, str, object] | None:
    """``(owner, name, replacement)`` routing ``to_thread.run_sync`` to the simulated pool."""
    backend = asyncio_backend()
    if backend is None:
        return None
    original = backend.__dict__.get("run_sync_in_worker_thread")
    if original is None:  # pragma: no cover - anyio changed
        return None

    async def run_sync_in_worker_thread(
        cls: Any,
        func: Callable[..., Any],
        args: tuple[Any, ...],
        abandon_on_cancel: bool = False,
        limiter: Any = None,
    ) -> Any:
        if not in_simulation():
            return await original.__func__(cls, func, args, abandon_on_cancel, limiter)
        import asyncio

        from anyio import CancelScope

        await cls.checkpoint()
        async with limiter or cls.current_default_thread_limiter():
            with CancelScope(shield=not abandon_on_cancel):
                loop = asyncio.get_running_loop()
                return await loop.run_in_executor(None, func, *args)

    return backend, "run_sync_in_worker_thread", classmethod(run_sync_in_worker_thread)
