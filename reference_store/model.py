"""A sequential model of the reference store's public API, for operation testing.

:class:`ReferenceModel` says what each call of :class:`~.store.ReferenceStore`
must return, one call at a time; :data:`SPEC` (built by :func:`spec`) ties it
to the real store through a small adapter (:class:`OperatedStore`) and gives
every operation a Hypothesis strategy for its arguments, so
``harness.linearizability.check(SPEC, ...)`` checks that every concurrent
history the store produces — under any schedule, with faults and crashes —
is one of the model's sequential histories.

What the model covers (and how the adapter calls it):

* metadata — ``set_metadata`` (awaited) and ``get_metadata``;
* sessions — ``update_session(session, fields)`` (fields as ``(name, value)``
  pairs; an unknown field raises ``ValueError``) and ``session``;
* transcript — ``append_message`` (idempotent per ``(session, seq)``),
  ``transcript``, ``stored_prefix``, and ``run_tool_calls(session, calls)``
  with ``calls`` as ``(tool, seconds)`` pairs: the result is the indices whose
  result event was emitted, and the turn's results are appended after the
  transcript, in call order, as one unit;
* chat messages — ``insert_message`` (ids are the table's AUTOINCREMENT ids,
  shared by every message of every session; an ``INSERT OR IGNORE`` that was
  ignored uses one up too, as SQLite does), ``messages_after``, and a
  subscription as one call: ``subscribe(chat, floor, notifications)`` starts a
  subscriber and feeds it the notifications; the result is every message it
  delivered, sorted (each message above the floor, exactly once);
* assets — ``save_asset`` and ``assets(session)`` (a read of the table);
* hooks — ``ingest(event_id, session, parts)``: an event whose parts contain
  ``None`` violates ``NOT NULL`` and raises ``IntegrityError``, storing
  nothing; an event already stored is acknowledged again without being
  written twice; ``hook_rows(event_id)`` reads what is stored; and
  ``end_idle_sessions(idle)``.

The store's clock is frozen at :data:`NOW` under operation testing (the model
cannot know when a statement ran), so activity and the watchdog are checked
against explicit ``last_activity`` values. Independent parts
(P-compositionality): each metadata key; each session's assets; sessions and
hooks together; every message of every session together (ids are shared).
"""

from __future__ import annotations

import asyncio
import functools
import sqlite3
from collections.abc import Hashable, Sequence
from typing import Any

from hypothesis import strategies as st

from harness import linearizability as lin

from .store import HookEvent, Message, ReferenceStore, ToolEvent

NOW = 100.0
DB = "reference.db"
SESSION_FIELDS = ("title", "model", "last_activity")

SessionRow = tuple[str | None, str | None, float, int, float | None]  # title … ended_at
MessageRow = tuple[int, str, int, str, str]  # id, session, seq, role, body


class ReferenceModel:
    """The reference store, one call at a time (see the module docstring). Hashable by key()."""

    def __init__(self) -> None:
        self.metadata: dict[str, str] = {}
        self.sessions: dict[str, SessionRow] = {}
        self.messages: tuple[MessageRow, ...] = ()
        self.next_id = 1
        self.asset_sizes: dict[tuple[str, str], int] = {}
        self.hooks: dict[str, tuple[tuple[int, str, str], ...]] = {}

    # ------------------------------------------------------------ the checker's hooks
    def key(self) -> Hashable:
        return (
            tuple(sorted(self.metadata.items())),
            tuple(sorted(self.sessions.items())),
            self.messages,
            self.next_id,
            tuple(sorted(self.asset_sizes.items())),
            tuple(sorted(self.hooks.items())),
        )

    def copy(self) -> ReferenceModel:
        new = ReferenceModel.__new__(ReferenceModel)
        new.metadata = dict(self.metadata)
        new.sessions = dict(self.sessions)
        new.messages = self.messages
        new.next_id = self.next_id
        new.asset_sizes = dict(self.asset_sizes)
        new.hooks = dict(self.hooks)
        return new

    def partition(self, op: str, *args: Any) -> Hashable:
        if op in ("set_metadata", "get_metadata"):
            return ("metadata", args[0])
        if op in ("save_asset", "assets"):
            return ("assets", args[0])
        if op in ("update_session", "session", "ingest", "hook_rows", "end_idle_sessions"):
            return "sessions"
        return "messages"

    # ------------------------------------------------------------ metadata
    def set_metadata(self, key: str, value: str) -> None:
        self.metadata[key] = value

    def get_metadata(self, key: str) -> str | None:
        return self.metadata.get(key)

    # ------------------------------------------------------------ sessions
    def update_session(self, session: str, fields: Sequence[tuple[str, Any]]) -> None:
        unknown = sorted({name for name, _ in fields} - set(SESSION_FIELDS))
        if unknown:
            raise ValueError(f"unknown session fields: {unknown}")
        title, model, activity, ended, ended_at = self.sessions.get(
            session, (None, None, 0.0, 0, None)
        )
        values = dict(fields)
        title = values.get("title", title)
        model = values.get("model", model)
        activity = float(values.get("last_activity", activity))
        self.sessions[session] = (title, model, activity, ended, ended_at)

    def session(self, session: str) -> dict[str, Any] | None:
        row = self.sessions.get(session)
        if row is None:
            return None
        keys = ("title", "model", "last_activity", "ended", "ended_at")
        return {"id": session, **dict(zip(keys, row, strict=True))}

    # ------------------------------------------------------------ transcript
    def _next_seq(self, session: str) -> int:
        return max((m[2] for m in self.messages if m[1] == session), default=-1) + 1

    def _insert(self, session: str, seq: int, role: str, body: str) -> int:
        message_id = self.next_id
        self.next_id += 1
        self.messages = (*self.messages, (message_id, session, seq, role, body))
        return message_id

    def append_message(self, session: str, seq: int, role: str, body: str) -> bool:
        if any(m[1] == session and m[2] == seq for m in self.messages):
            self.next_id += 1  # SQLite: an ignored INSERT OR IGNORE still uses up an id
            return False
        self._insert(session, seq, role, body)
        return True

    def transcript(self, session: str) -> list[tuple[int, str, str]]:
        rows = sorted((m[2], m[3], m[4]) for m in self.messages if m[1] == session)
        return rows

    def stored_prefix(self, session: str) -> int:
        return self._next_seq(session)

    def run_tool_calls(self, session: str, calls: Sequence[tuple[str, float]]) -> tuple[int, ...]:
        base = self._next_seq(session)
        for index, (name, _) in enumerate(calls):
            self._insert(session, base + index, "tool", f"{name}: r{index}")
        return tuple(range(len(calls)))

    # ------------------------------------------------------------ chat messages
    def insert_message(self, chat: str, body: str) -> Message:
        return Message(self._insert(chat, self._next_seq(chat), "chat", body), chat, body)

    def messages_after(self, chat: str, after_id: int) -> list[Message]:
        return [
            Message(m[0], chat, m[4]) for m in self.messages if m[1] == chat and m[0] > after_id
        ]

    def subscribe(self, chat: str, floor: int, notifications: Sequence[int]) -> list[int]:
        return [m[0] for m in self.messages if m[1] == chat and m[0] > floor]

    # ------------------------------------------------------------ assets
    def save_asset(self, session: str, name: str, path: str) -> None:
        self.asset_sizes[(session, name)] = len(path.encode())

    def assets(self, session: str) -> list[tuple[str, int]]:
        return sorted((n, size) for (s, n), size in self.asset_sizes.items() if s == session)

    # ------------------------------------------------------------ hooks
    def ingest(self, event_id: str, session: str, parts: Sequence[str | None]) -> str:
        if self.hooks.get(event_id):
            return f"ack:{event_id}"  # already stored: acknowledged again, not written twice
        if any(p is None for p in parts):
            raise sqlite3.IntegrityError("NOT NULL constraint failed: hook_rows.body")
        if parts:
            self.hooks[event_id] = tuple((i, session, str(p)) for i, p in enumerate(parts))
        title, model, _, _, ended_at = self.sessions.get(session, (None, None, 0.0, 0, None))
        self.sessions[session] = (title, model, NOW, 0, ended_at)
        return f"ack:{event_id}"

    def hook_rows(self, event_id: str) -> list[tuple[int, str, str]]:
        return list(self.hooks.get(event_id, ()))

    def end_idle_sessions(self, idle: float) -> int:
        ended = 0
        for session, (title, model, activity, was_ended, _) in sorted(self.sessions.items()):
            if not was_ended and activity <= NOW - idle:
                self.sessions[session] = (title, model, activity, 1, NOW)
                ended += 1
        return ended


class OperatedStore:
    """The reference store as operation tests call it (arguments as the model takes them).

    ``scale`` turns the virtual seconds of tool durations and file I/O into
    real ones on real aiosqlite (``RealSim``); in a simulation they are virtual.
    """

    def __init__(self, store: ReferenceStore, scale: float) -> None:
        self.store = store
        self.scale = scale

    @classmethod
    async def open(
        cls, sim: Any, store_class: type[ReferenceStore] = ReferenceStore
    ) -> OperatedStore:
        scale = 0.001 if getattr(sim, "kind", "sim") == "real" else 1.0

        async def file_io(path: str) -> bytes:
            await asyncio.sleep(0.5 * scale)  # slow file I/O, outside any transaction
            return path.encode()

        store = await store_class.open(sim.connect, DB, file_io=file_io, clock=lambda: NOW)
        assert isinstance(store, ReferenceStore)
        return cls(store, scale)

    async def close(self) -> None:
        await self.store.close()

    async def set_metadata(self, key: str, value: str) -> None:
        await self.store.set_metadata(key, value)

    async def get_metadata(self, key: str) -> str | None:
        return await self.store.get_metadata(key)

    async def update_session(self, session: str, fields: Sequence[tuple[str, Any]]) -> None:
        await self.store.update_session(session, **dict(fields))

    async def session(self, session: str) -> dict[str, Any] | None:
        found = await self.store.session(session)
        if found is None:
            return None
        return {k: v for k, v in found.items()}

    async def append_message(self, session: str, seq: int, role: str, body: str) -> bool:
        return await self.store.append_message(session, seq, role, body)

    async def transcript(self, session: str) -> list[tuple[int, str, str]]:
        return await self.store.transcript(session)

    async def stored_prefix(self, session: str) -> int:
        return await self.store.stored_prefix(session)

    async def run_tool_calls(
        self, session: str, calls: Sequence[tuple[str, float]]
    ) -> tuple[int, ...]:
        emitted: list[int] = []
        scale = self.scale

        async def execute(index: int, name: str) -> str:
            await asyncio.sleep(calls[index][1] * scale)
            return f"r{index}"

        def emit(event: ToolEvent) -> None:
            emitted.append(event.index)

        await self.store.run_tool_calls(session, [name for name, _ in calls], execute, emit)
        return tuple(sorted(emitted))

    async def insert_message(self, chat: str, body: str) -> Message:
        return await self.store.insert_message(chat, body)

    async def messages_after(self, chat: str, after_id: int) -> list[Message]:
        return await self.store.messages_after(chat, after_id)

    async def subscribe(self, chat: str, floor: int, notifications: Sequence[int]) -> list[int]:
        subscriber = self.store.subscriber(chat, floor)
        delivered = [m.id for m in await subscriber.start()]
        for after in notifications:
            delivered += [m.id for m in await subscriber.on_notify(after)]
        return sorted(delivered)

    async def save_asset(self, session: str, name: str, path: str) -> None:
        await self.store.save_asset(session, name, path)

    async def assets(self, session: str) -> list[tuple[str, int]]:
        rows = await self.store.db.query(
            "SELECT name, size FROM assets WHERE session_id = ? ORDER BY name", (session,)
        )
        return [(str(n), int(s)) for n, s in rows]

    async def ingest(self, event_id: str, session: str, parts: Sequence[str | None]) -> str:
        event = HookEvent(event_id, session, tuple(parts))  # type: ignore[arg-type]
        return await self.store.ingest(event)

    async def hook_rows(self, event_id: str) -> list[tuple[int, str, str]]:
        rows = await self.store.db.query(
            "SELECT part, session_id, body FROM hook_rows WHERE event_id = ? ORDER BY part",
            (event_id,),
        )
        return [(int(p), str(s), str(b)) for p, s, b in rows]

    async def end_idle_sessions(self, idle: float) -> int:
        return await self.store.end_idle_sessions(idle)


KEYS = st.sampled_from(("k1", "k2"))
SESSIONS = st.sampled_from(("s1", "s2"))
EVENTS = st.sampled_from(("e1", "e2"))
FIELD = st.one_of(
    st.tuples(st.just("title"), st.sampled_from(("t1", "t2"))),
    st.tuples(st.just("model"), st.sampled_from(("m1", "m2"))),
    st.tuples(st.just("last_activity"), st.sampled_from((0.0, 60.0, 100.0))),
    st.tuples(st.just("colour"), st.just("red")),
)
TOOL_TIMEOUT = 1.5  # virtual seconds: a turn whose slowest tool takes 2 s times out


def _operations() -> list[lin.Operation]:
    op = lin.operation
    return [
        op("set_metadata", KEYS, st.sampled_from(("v1", "v2", "v3"))),
        op("get_metadata", KEYS),
        op(
            "update_session",
            SESSIONS,
            st.lists(FIELD, max_size=2, unique_by=lambda f: f[0]).map(tuple),
        ),
        op("session", SESSIONS),
        op(
            "append_message",
            SESSIONS,
            st.integers(0, 2),
            st.sampled_from(("user", "assistant")),
            st.sampled_from(("hi", "ok")),
        ),
        op("transcript", SESSIONS),
        op("stored_prefix", SESSIONS),
        lin.Operation(
            "run_tool_calls",
            (
                SESSIONS,
                st.lists(
                    st.tuples(st.sampled_from(("grep", "read")), st.sampled_from((0.0, 1.0, 2.0))),
                    min_size=1,
                    max_size=3,
                ).map(tuple),
            ),
            timeout=TOOL_TIMEOUT,
        ),
        op("insert_message", SESSIONS, st.sampled_from(("m1", "m2"))),
        op("messages_after", SESSIONS, st.integers(0, 4)),
        op(
            "subscribe",
            SESSIONS,
            st.integers(0, 4),
            st.lists(st.integers(0, 6), max_size=2).map(tuple),
        ),
        op(
            "save_asset",
            SESSIONS,
            st.sampled_from(("a.png", "b.png")),
            st.sampled_from(("x", "yy")),
        ),
        op("assets", SESSIONS),
        op(
            "ingest",
            EVENTS,
            SESSIONS,
            st.lists(st.sampled_from(("p1", "p2", None)), max_size=2).map(tuple),
        ),
        op("hook_rows", EVENTS),
        op("end_idle_sessions", st.sampled_from((0.0, 50.0))),
    ]


OBSERVE = tuple(
    [lin.Call("get_metadata", (k,)) for k in ("k1", "k2")]
    + [lin.Call(name, (s,)) for s in ("s1", "s2") for name in ("session", "transcript", "assets")]
    + [lin.Call("messages_after", (s, 0)) for s in ("s1", "s2")]
    + [lin.Call("hook_rows", (e,)) for e in ("e1", "e2")]
)


def spec(
    operations: Sequence[str] | None = None,
    *,
    observe: bool = True,
    store: type[ReferenceStore] = ReferenceStore,
) -> lin.Spec:
    """The operation-testing spec of the reference store (optionally only some operations).

    ``operations`` restricts the generated operations to those names (the
    observation reads are always available); ``observe=False`` drops the final
    reads (cheaper schedules, no durability check); ``store`` puts a subclass
    of :class:`ReferenceStore` under test instead (a variant or an old version).
    """
    ops = _operations()
    if operations is not None:
        unknown = set(operations) - {o.name for o in ops}
        if unknown:
            raise KeyError(f"unknown reference-store operations: {sorted(unknown)}")
        ops = [
            o if o.name in operations else lin.Operation(o.name, o.args, o.run, o.timeout, False)
            for o in ops
        ]
    return lin.Spec(
        setup=functools.partial(OperatedStore.open, store_class=store),
        teardown=OperatedStore.close,
        model=ReferenceModel,
        operations=ops,
        observe=OBSERVE if observe else (),
        name="reference store" if store is ReferenceStore else store.__name__,
    )


SPEC = spec()
