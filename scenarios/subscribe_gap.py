"""subscribe-gap — coder/coder #25433: a subscriber silently drops an out-of-order message.

Producers commit chat messages (ids assigned at insert) and, after each
commit, put the message in a per-process durable cache and notify
``after_id = id - 1``; which producer resumes first after its commit, and in
which order the notifications reach the subscriber, varies. The subscriber
takes a snapshot above its ``after_id`` floor, then merges cache and database
on each notification.

Invariants:

* exactly once: every message with id above the client's ``after_id`` is delivered exactly once.
* floor: nothing at or below that ``after_id`` is delivered.

Variants (the subscriber's merge logic; producers are the same):

* ``original`` — a monotonic ``last_id``; lookups from it; the database is
  consulted only when the cache pass delivered nothing;
* ``naive-fix`` — lookups from ``min(notify.after, last_id)`` but no
  delivered set: re-scans deliver duplicates;
* ``reference`` — ``min(notify.after, last_id)`` clamped to the floor, a
  delivered-id set seeded from the snapshot, cache and database pass on every
  notification.

Minimal failing order (original): snapshot {3,4}; cache 5 and 7, notify(after
4) delivers 5 and 7 (last = 7); cache 6, notify(after 5): 6 is never delivered.
"""

from __future__ import annotations

import asyncio
from typing import Any

from harness import checks
from harness.reference_store import Message, ReferenceStore, Subscriber

from ._base import Scenario
from ._env import Env

DB = "chat.db"
CHAT = "chat-1"
FLOOR = 2


class MonotonicSubscriber(Subscriber):
    """The original merge: a cursor that only moves forward."""

    async def on_notify(self, after_id: int) -> list[Message]:
        found = self._store.cache.after(self.chat, self.last)
        if not found:  # the database only as a fallback
            found = await self._store.messages_after(self.chat, self.last)
        return self._deliver(found)

    def _deliver(self, messages: list[Message]) -> list[Message]:
        for m in messages:
            self.last = max(self.last, m.id)
        return messages


class RescanSubscriber(MonotonicSubscriber):
    """The naive fix: rescan from ``min(after, last)``, but remember nothing."""

    async def on_notify(self, after_id: int) -> list[Message]:
        lookup = min(after_id, self.last)
        found = self._store.cache.after(self.chat, lookup)
        if not found:
            found = await self._store.messages_after(self.chat, lookup)
        return self._deliver(found)


def subscriber(variant: str, store: ReferenceStore, after_id: int) -> Subscriber:
    if variant == "original":
        return MonotonicSubscriber(store, CHAT, after_id)
    if variant == "naive-fix":
        return RescanSubscriber(store, CHAT, after_id)
    return store.subscriber(CHAT, after_id)


async def workload(env: Env, variant: str) -> None:
    store = await ReferenceStore.open(env.connect, DB)
    for body in ("m1", "m2", "m3", "m4"):  # history before the client subscribes
        await store.insert_message(CHAT, body)
    notifications = env.bus.listen(CHAT)
    client = subscriber(variant, store, FLOOR)
    delivered = [m.id for m in await client.start()]

    produced = ("m5", "m6", "m7")
    # each producer has a pooled connection of its own: the id is assigned at insert, and
    # when the commit's result reaches the producer varies
    pool = [await env.connect(DB, isolation_level=None, timeout=5) for _ in produced]

    async def produce(conn: Any, body: str) -> None:
        await conn.execute("BEGIN IMMEDIATE")
        cursor = await conn.execute(
            "INSERT INTO messages(session_id, seq, role, body) VALUES "
            "(?, (SELECT COALESCE(MAX(seq) + 1, 0) FROM messages WHERE session_id = ?), "
            "'chat', ?)",
            (CHAT, CHAT, body),
        )
        await conn.execute("COMMIT")
        assert cursor.lastrowid is not None
        message = Message(cursor.lastrowid, CHAT, body)
        store.cache.add(message)  # the per-process durable cache, filled after the commit
        await env.bus.notify(CHAT, message.id - 1)

    async def consume(count: int) -> None:
        for _ in range(count):
            after: Any = await notifications.get()
            delivered.extend(m.id for m in await client.on_notify(int(after)))

    await asyncio.gather(
        consume(len(produced)),
        *(produce(conn, body) for conn, body in zip(pool, produced, strict=True)),
    )
    for conn in pool:
        await conn.close()
    expected = [m.id for m in await store.messages_after(CHAT, FLOOR)]
    await store.close()
    env.notes["delivered"] = delivered
    checks.above_floor(delivered, FLOOR, what="message")
    checks.exactly_once(delivered, expected, what="message")


SCENARIO = Scenario(
    name="subscribe-gap",
    source="coder/coder #25433",
    summary="a late notification below the subscriber's cursor is never delivered",
    invariants=(
        "every message above the client's after_id is delivered exactly once",
        "nothing at or below the client's after_id is delivered",
    ),
    mode="fifo",
    faults=None,
    workload=workload,
)
