"""Per-key sequencing of asynchronous work (VS Code's ``SequencerByKey``, in asyncio)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


class KeySequencer:
    """Run work for the same key one after another, in call order; other keys concurrently.

    Invariants:

    * work is chained at *call* time (``queue`` is synchronous), so call order is
      execution order even when the caller never awaits in between;
    * a predecessor's failure or cancellation is its own caller's business: the
      next item runs regardless (the fix for vscode #311989's naive chain);
    * a key's entry is dropped once its last item finished, so the map does not grow;
    * items of different keys never wait for each other.
    """

    def __init__(self) -> None:
        self._tails: dict[str, asyncio.Task[Any]] = {}

    def queue(self, key: str, work: Callable[[], Awaitable[T]]) -> asyncio.Task[T]:
        previous = self._tails.get(key)

        async def run() -> T:
            if previous is not None:
                await asyncio.wait([previous])  # never raises the predecessor's error
            return await work()

        task: asyncio.Task[T] = asyncio.ensure_future(run())
        self._tails[key] = task

        def forget(done: asyncio.Task[T]) -> None:
            if self._tails.get(key) is done:
                del self._tails[key]

        task.add_done_callback(forget)
        return task

    def pending(self, key: str) -> bool:
        return key in self._tails

    async def when_idle(self) -> None:
        """Wait until every queued item has finished (successfully or not)."""
        while self._tails:
            await asyncio.wait(list(self._tails.values()))
