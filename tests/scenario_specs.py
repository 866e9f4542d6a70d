"""Operation-testing specs for the bundled scenarios' stores (original, naive-fix, reference).

Each spec wraps a scenario's store variant — unchanged, imported from
``harness.scenarios`` — in a small adapter that exposes the store's operations
as the scenario's workload uses them, with a sequential model of what they
should return. The models are written once per scenario; every variant runs
against the same model, and the reference variant must pass it.

Where a scenario's bug is not a model violation, the spec says so (see
``NOT_EXPRESSIBLE``).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from typing import Any

from hypothesis import strategies as st

import harness
from harness import linearizability as lin
from harness.reference_store import HookEvent, Message, ReferenceStore, ToolEvent
from harness.scenarios import (
    flush_cursor,
    hook_batch,
    metadata_lww,
    subscribe_gap,
    writer_contention,
)
from harness.scenarios._env import SimEnv

VARIANTS = ("original", "naive-fix", "reference")


class _Keyed:
    def key(self) -> Any:
        return tuple(sorted((k, _freeze(v)) for k, v in vars(self).items()))


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted(value.items()))
    if isinstance(value, list):
        return tuple(value)
    return value


# ------------------------------------------------------------------ metadata-lww
class LwwModel(_Keyed):
    """Last writer wins per key; two writes called back to back take effect in call order.

    ``set_pair`` is two writes, so a read running between them may see the first:
    reads are therefore only the observations, after every pair has returned; and
    with injected faults a pair may take effect halfway, which this model does not
    describe — the spec runs without faults (see ``NOT_EXPRESSIBLE``).
    """

    def __init__(self) -> None:
        self.data: dict[str, str] = {}

    def set_pair(self, key: str, first: str, second: str) -> None:
        self.data[key] = second

    def get(self, key: str) -> str | None:
        return self.data.get(key)

    def partition(self, op: str, key: str, *args: Any) -> str:
        return key


class LwwStore:
    def __init__(self, store: Any) -> None:
        self.store = store

    @classmethod
    async def open(cls, sim: harness.Sim, variant: str) -> LwwStore:
        return cls(await metadata_lww.open_store(SimEnv(sim), variant))

    async def close(self) -> None:
        await self.store.close()

    async def set_pair(self, key: str, first: str, second: str) -> None:
        # no await in between: call order is submission order (as in the scenario)
        futures = [self.store.set_metadata(key, first), self.store.set_metadata(key, second)]
        for outcome in await asyncio.gather(*futures, return_exceptions=True):
            if isinstance(outcome, BaseException):
                raise outcome

    async def get(self, key: str) -> str | None:
        value = await self.store.get_metadata(key)
        return None if value is None else str(value)


def lww_spec(variant: str) -> lin.Spec:
    keys = st.sampled_from(("config", "title"))
    values = st.sampled_from(("main", "release", "beta"))
    return lin.Spec(
        setup=lambda sim: LwwStore.open(sim, variant),
        teardown=LwwStore.close,
        model=LwwModel,
        operations=[
            lin.operation("set_pair", keys, values, values),
            lin.operation("get", keys, generated=False),
        ],
        observe=[lin.Call("get", ("config",)), lin.Call("get", ("title",))],
        name=f"metadata-lww/{variant}",
    )


# ------------------------------------------------------------------ writer-contention
TOOLS = writer_contention.TOOLS
SESSION = writer_contention.SESSION


class ContentionModel(_Keyed):
    """A turn's results are appended in call order; each result event is emitted on time."""

    def __init__(self) -> None:
        self.rows: tuple[tuple[int, str, str], ...] = ()

    def run_tool_calls(self, durations: Sequence[float]) -> tuple[int, ...]:
        for i in range(len(durations)):
            self.rows = (*self.rows, (len(self.rows), "tool", f"{TOOLS[i]}: result {i}"))
        return tuple(range(len(durations)))

    def rename(self, title: str) -> None:
        return None

    def transcript(self) -> list[tuple[int, str, str]]:
        return list(self.rows)


class ContentionStore:
    def __init__(self, env: SimEnv, store: Any) -> None:
        self.env = env
        self.store = store

    @classmethod
    async def open(cls, sim: harness.Sim, variant: str) -> ContentionStore:
        env = SimEnv(sim)
        store = await writer_contention.open_store(env, variant)
        return cls(env, store)

    async def close(self) -> None:
        await self.store.close()

    async def run_tool_calls(self, durations: Sequence[float]) -> tuple[int, ...]:
        """The indices whose result event was emitted the instant their tool finished."""
        finished: dict[int, float] = {}
        emitted: dict[int, float] = {}

        async def execute(index: int, name: str) -> str:
            await self.env.sleep(durations[index])
            finished[index] = self.env.now()
            return f"result {index}"

        def emit(event: ToolEvent) -> None:
            emitted[event.index] = self.env.now()

        calls = TOOLS[: len(durations)]
        await self.store.run_tool_calls(SESSION, calls, execute, emit)
        return tuple(i for i in range(len(calls)) if emitted.get(i) == finished.get(i))

    async def rename(self, title: str) -> None:
        await self.store.update_session(SESSION, title=title)

    async def transcript(self) -> list[tuple[int, str, str]]:
        return list(await self.store.transcript(SESSION))


def contention_spec(variant: str) -> lin.Spec:
    durations = st.lists(st.sampled_from((0.5, 1.0, 1.5)), min_size=1, max_size=3).map(tuple)
    return lin.Spec(
        setup=lambda sim: ContentionStore.open(sim, variant),
        teardown=ContentionStore.close,
        model=ContentionModel,
        operations=[
            lin.operation("run_tool_calls", durations),
            lin.operation("rename", st.sampled_from(("renamed", "other"))),
            lin.operation("transcript"),
        ],
        observe=[lin.Call("transcript")],
        name=f"writer-contention/{variant}",
    )


# ------------------------------------------------------------------ subscribe-gap
FLOOR = subscribe_gap.FLOOR
CHAT = subscribe_gap.CHAT
HISTORY = ("m1", "m2", "m3", "m4")  # committed before the client subscribes: ids 1..4


class GapModel(_Keyed):
    """Messages get ids in commit order; the client gets each one above its floor once."""

    def __init__(self) -> None:
        self.ids: tuple[int, ...] = tuple(range(1, len(HISTORY) + 1))

    def produce(self, body: str) -> int:
        self.ids = (*self.ids, len(self.ids) + 1)
        return self.ids[-1]

    def delivered(self) -> list[int]:
        return [i for i in self.ids if i > FLOOR]


class GapStore:
    """Producers on pooled connections of their own; one subscriber merging cache and database."""

    def __init__(self, env: SimEnv, store: ReferenceStore, variant: str) -> None:
        self.env = env
        self.store = store
        self.variant = variant
        self.delivered_ids: list[int] = []
        self.produced = 0
        self.consumed = 0
        self.progress = asyncio.Condition()
        self.consumer: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, sim: harness.Sim, variant: str) -> GapStore:
        env = SimEnv(sim)
        store = await ReferenceStore.open(env.connect, subscribe_gap.DB)
        for body in HISTORY:
            await store.insert_message(CHAT, body)
        self = cls(env, store, variant)
        notifications = env.bus.listen(CHAT)
        client = subscribe_gap.subscriber(variant, store, FLOOR)
        self.delivered_ids += [m.id for m in await client.start()]

        async def consume() -> None:
            while True:
                after: Any = await notifications.get()
                self.delivered_ids += [m.id for m in await client.on_notify(int(after))]
                async with self.progress:
                    self.consumed += 1
                    self.progress.notify_all()

        self.consumer = asyncio.ensure_future(consume())
        return self

    async def close(self) -> None:
        if self.consumer is not None:
            self.consumer.cancel()
        await self.store.close()

    async def produce(self, body: str) -> int:
        conn = await self.env.connect(subscribe_gap.DB, isolation_level=None, timeout=5)
        try:
            await conn.execute("BEGIN IMMEDIATE")
            cursor = await conn.execute(
                "INSERT INTO messages(session_id, seq, role, body) VALUES "
                "(?, (SELECT COALESCE(MAX(seq) + 1, 0) FROM messages WHERE session_id = ?), "
                "'chat', ?)",
                (CHAT, CHAT, body),
            )
            await conn.execute("COMMIT")
        finally:
            await conn.close()
        assert cursor.lastrowid is not None
        message = Message(cursor.lastrowid, CHAT, body)
        self.store.cache.add(message)  # the per-process durable cache, filled after the commit
        self.produced += 1
        await self.env.bus.notify(CHAT, message.id - 1)
        return message.id

    async def delivered(self) -> list[int]:
        """Every message the client was given, once all notifications sent were handled."""
        async with self.progress:
            await self.progress.wait_for(lambda: self.consumed >= self.produced)
        return sorted(self.delivered_ids)


def gap_spec(variant: str) -> lin.Spec:
    return lin.Spec(
        setup=lambda sim: GapStore.open(sim, variant),
        teardown=GapStore.close,
        model=GapModel,
        operations=[
            lin.operation("produce", st.sampled_from(("m5", "m6", "m7"))),
            lin.operation("delivered", generated=False),
        ],
        observe=[lin.Call("delivered")],
        name=f"subscribe-gap/{variant}",
    )


# ------------------------------------------------------------------ flush-cursor
class FlushModel(_Keyed):
    """Every message the agent said is stored exactly once, in order, after its shutdown flush."""

    def __init__(self) -> None:
        self.said: tuple[str, ...] = ()

    def step(self, text: str) -> None:
        self.said = (*self.said, text)

    def shutdown(self) -> None:
        return None

    def transcript(self) -> list[str]:
        return list(self.said)


class FlushAgent:
    """The scenario's agent (its own flush, cursor and exit paths) with contention and timeouts."""

    def __init__(self, env: SimEnv, store: Any, agent: flush_cursor.Agent, other: Any) -> None:
        self.env = env
        self.store = store
        self.agent = agent
        self.other = other

    @classmethod
    async def open(cls, sim: harness.Sim, variant: str) -> FlushAgent:
        env = SimEnv(sim)
        store = await flush_cursor.open_store(env, variant)
        cursor = 0
        if sim.crashes:  # a restart: the conversation is the client's, the cursor recovered
            if variant == "reference":
                cursor = await store.stored_prefix(flush_cursor.SESSION)
            else:
                cursor = int(env.notes.get("cursor", 0))
        agent = flush_cursor.Agent(env, store, variant, cursor=cursor)
        other = None if sim.crashes else asyncio.ensure_future(flush_cursor.other_process(env))
        return cls(env, store, agent, other)

    async def close(self) -> None:
        await self.store.close()

    async def step(self, text: str) -> None:
        await self.env.sleep(0.5)
        self.agent.say(text)
        await self.agent.flush()  # exit path: end of a step

    async def shutdown(self) -> None:
        if self.other is not None:
            await self.other
        await self.env.sleep(1.0)
        for _ in range(3):  # session close, process shutdown, and one more retry
            await self.agent.flush()

    async def transcript(self) -> list[str]:
        rows = await self.store.transcript(flush_cursor.SESSION)
        return [f"{role}: {body}" for _, role, body in rows]


def flush_spec(variant: str) -> lin.Spec:
    return lin.Spec(
        setup=lambda sim: FlushAgent.open(sim, variant),
        teardown=FlushAgent.close,
        model=FlushModel,
        operations=[
            lin.operation("step", st.sampled_from(flush_cursor.MESSAGES)),
            lin.operation("shutdown", generated=False),
            lin.operation("transcript", generated=False),
        ],
        observe=[lin.Call("shutdown"), lin.Call("transcript")],
        name=f"flush-cursor/{variant}",
    )


# ------------------------------------------------------------------ hook-batch
class HookModel(_Keyed):
    """A hook's rows are stored all-or-nothing, acknowledged once durable, and only once."""

    def __init__(self) -> None:
        self.hooks: dict[str, tuple[str, ...]] = {}

    def ingest(self, event_id: str, session: str, parts: Sequence[str | None], at: float) -> str:
        if event_id in self.hooks:  # the scenarios predate idempotent ingestion: either will do
            return lin.AnyOf(f"ack:{event_id}", sqlite3.IntegrityError)  # type: ignore[return-value]
        if any(p is None for p in parts):
            raise sqlite3.IntegrityError("NOT NULL constraint failed: hook_rows.body")
        self.hooks[event_id] = tuple(str(p) for p in parts)
        return f"ack:{event_id}"

    def hook_rows(self, event_id: str) -> list[str]:
        return list(self.hooks.get(event_id, ()))

    def idle(self) -> None:
        return None

    def partition(self, op: str, *args: Any) -> str | None:
        return args[0] if args else None


class HookStore:
    """Hook handlers (each sleeps until its moment), with the sync service writing alongside."""

    def __init__(self, env: SimEnv, store: Any, sync: Any) -> None:
        self.env = env
        self.store = store
        self.sync = sync

    @classmethod
    async def open(cls, sim: harness.Sim, variant: str) -> HookStore:
        env = SimEnv(sim)
        store = await hook_batch.open_store(env, variant)
        sync = None if sim.crashes else asyncio.ensure_future(hook_batch.sync_service(env))
        return cls(env, store, sync)

    async def close(self) -> None:
        await self.store.when_idle()
        if self.sync is not None:
            await self.sync
        await self.store.close()

    async def ingest(
        self, event_id: str, session: str, parts: Sequence[str | None], at: float
    ) -> str:
        await self.env.sleep(at)
        event = HookEvent(event_id, session, tuple(parts), f"{event_id}.jsonl")  # type: ignore[arg-type]
        return str(await self.store.ingest(event))

    async def idle(self) -> None:
        """Wait until queued batches are written (so reads see what was acknowledged)."""
        await self.store.when_idle()

    async def hook_rows(self, event_id: str) -> list[str]:
        db = self.store.db.reader if isinstance(self.store, ReferenceStore) else self.store.conn
        rows = await db.execute_fetchall(
            "SELECT body FROM hook_rows WHERE event_id = ? ORDER BY part", (event_id,)
        )
        return [str(r[0]) for r in rows]


def hook_spec(variant: str) -> lin.Spec:
    parts = st.sampled_from((("tool start", "tool end"), ("prompt",), ("tool start", None)))
    return lin.Spec(
        setup=lambda sim: HookStore.open(sim, variant),
        teardown=HookStore.close,
        model=HookModel,
        operations=[
            lin.operation(
                "ingest",
                st.sampled_from(("e1", "e2", "e3")),
                st.sampled_from(("s-busy", "s-idle")),
                parts,
                st.sampled_from((0.0, 5.0)),
            ),
            lin.operation("hook_rows", st.sampled_from(("e1", "e2", "e3"))),
            lin.operation("idle", generated=False),
        ],
        observe=[lin.Call("idle"), *(lin.Call("hook_rows", (e,)) for e in ("e1", "e2", "e3"))],
        name=f"hook-batch/{variant}",
    )


SPECS = {
    "metadata-lww": lww_spec,
    "writer-contention": contention_spec,
    "subscribe-gap": gap_spec,
    "flush-cursor": flush_spec,
    "hook-batch": hook_spec,
}

NOT_EXPRESSIBLE = {
    ("metadata-lww", "naive-fix"): (
        "its bug needs a fault: one 'database is locked' fails both back-to-back writes (the "
        "chain re-raises the first write's error into the second, which never runs). Each "
        "failure alone is a legitimate outcome and the value left is one some order allows; "
        "what breaks is fault accounting (one fault, two failures: checks.independent_failures), "
        "which a sequential model cannot see. A pair of writes is not atomic under faults "
        "either (the second may fail alone), so the spec runs without faults"
    ),
}
