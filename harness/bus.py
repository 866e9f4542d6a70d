"""A notification bus with PostgreSQL LISTEN/NOTIFY semantics, under control.

``sub = sim.bus.listen("chan")`` subscribes; ``await sim.bus.notify("chan",
payload)`` sends to every current subscriber; ``await sub.get()`` or ``async for
payload in sub`` receives. Each (notification, subscriber) pair is delivered
at a step the strategy chooses, so a subscriber may see notifications in any
order — as with commit-order reordering in PostgreSQL, a connection pool, or
an in-process fan-out. The default order is send order.

``notify(..., conn=db)`` ties the notification to ``db``'s open transaction:
it is sent when that transaction commits and dropped if it rolls back
(outside a transaction it is sent at once, like an autocommit ``NOTIFY``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._ops import Delivery
from ._world import World
from .sqlite._worker import worker_of
from .trace import scrub, short

if TYPE_CHECKING:
    pass


class Subscription:
    """One listener on one channel. Async-iterable; ``close()`` stops delivery."""

    def __init__(self, bus: Bus, channel: str, name: str) -> None:
        self._bus = bus
        self.channel = channel
        self.name = name
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self.closed = False

    def __repr__(self) -> str:
        return f"<Subscription {self.name}>"

    def _push(self, payload: Any) -> None:
        if not self.closed:
            self._queue.put_nowait(payload)

    async def get(self) -> Any:
        """Wait for the next delivered notification."""
        return await self._queue.get()

    def get_nowait(self) -> Any:
        """The next delivered notification; raise ``asyncio.QueueEmpty`` if none arrived."""
        return self._queue.get_nowait()

    def pending(self) -> int:
        """How many delivered notifications have not been read yet."""
        return self._queue.qsize()

    def close(self) -> None:
        """Unsubscribe: notifications not yet delivered are dropped."""
        self.closed = True
        self._bus._unsubscribe(self)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Any:
        if self.closed and self._queue.empty():
            raise StopAsyncIteration
        return await self.get()

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PendingNotify:
    """A notification held until its connection's transaction ends."""

    __slots__ = ("bus", "channel", "conn", "payload")

    def __init__(self, bus: Bus, channel: str, payload: Any, conn: str) -> None:
        self.bus = bus
        self.channel = channel
        self.payload = payload
        self.conn = conn  # the connection's timeline name

    def resolve(self, committed: bool) -> None:
        text = f"{self.channel}: {short(repr(self.payload), 48)}"
        if committed:
            self.bus._world.event(
                self.conn,
                "notify",
                f"{text} (sent at commit)",
                fields=(self.channel, scrub(repr(self.payload))),
            )
            self.bus._publish(self.channel, self.payload)
        else:
            self.bus._world.event(
                self.conn,
                "drop",
                f"{text} (transaction rolled back)",
                fields=(self.channel, scrub(repr(self.payload))),
            )


def _arrival(
    loop: asyncio.AbstractEventLoop, sub: Subscription, payload: Any
) -> Callable[[], None]:
    """The delivery step: the payload lands in the loop's ready queue, like a socket read."""

    def arrive() -> None:
        loop.call_soon(sub._push, payload)

    return arrive


class Bus:
    """``sim.bus`` — see the module docstring."""

    def __init__(self, world: World) -> None:
        self._world = world
        self._generation = world.generation
        self._subs: dict[str, list[Subscription]] = {}

    def listen(self, channel: str) -> Subscription:
        """Subscribe to ``channel``; only notifications sent from now on arrive."""
        self._world.check_alive(self._generation)
        sub = Subscription(self, channel, self._world.unique_name(f"sub:{channel}"))
        self._subs.setdefault(channel, []).append(sub)
        return sub

    async def notify(self, channel: str, payload: Any = None, *, conn: Any = None) -> None:
        """Send ``payload`` to every subscriber of ``channel`` (at ``conn``'s commit, if given)."""
        world = self._world
        world.check_alive(self._generation)
        sender = world.current_actor()
        text = f"{channel}: {short(repr(payload), 48)}"
        if conn is not None:
            worker = worker_of(conn)
            if worker is None or worker.world is not world:
                raise TypeError(
                    "notify(conn=...) takes an aiosqlite connection opened in this schedule"
                )
            rc = worker.real
            if rc is not None and rc.in_transaction():
                rc.pending_notifies.append(PendingNotify(self, channel, payload, worker.name))
                world.event(
                    sender,
                    "notify",
                    f"{text} (held until {worker.name} commits)",
                    fields=(channel, scrub(repr(payload)), worker.name),
                )
                return
        world.event(sender, "notify", text, fields=(channel, scrub(repr(payload))))
        self._publish(channel, payload)

    def _publish(self, channel: str, payload: Any) -> None:
        world = self._world
        loop = world.loop
        assert loop is not None
        label = f"{channel}: {short(repr(payload), 48)}"
        for sub in self._subs.get(channel, ()):
            world.enable_delivery(Delivery(sub.name, label, _arrival(loop, sub, payload)))

    def _unsubscribe(self, sub: Subscription) -> None:
        subs = self._subs.get(sub.channel)
        if subs and sub in subs:
            subs.remove(sub)
