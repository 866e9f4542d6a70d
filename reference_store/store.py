"""The reference store: every fix from the five seed pull requests, in one async store.

It takes its ``connect`` function as a parameter (``aiosqlite.connect`` in
production, ``sim.connect`` under harness) and its file I/O as another, so the
same code runs on real aiosqlite and inside a simulation.

Fixes carried (one line each, with the pull request that motivated it):

* metadata writes go through a per-key sequencer chained at call time that
  swallows a predecessor's failure (vscode #311989);
* one writer connection; the write lock is held only around SQL; transcript
  messages are persisted in tool-call order while each tool's result event is
  emitted the moment that tool finishes; asset file I/O happens before the
  lock is taken (neo-code #631);
* subscribers look up from ``min(notify.after, last)`` clamped to the client's
  floor, keep a delivered-id set seeded from the snapshot, and pass over both
  the cache and the database on every notification (coder #25433);
* messages carry an idempotency key (``UNIQUE(session_id, seq)``, insert-or-
  ignore) and the flush cursor is recovered from the database (hermes #19407);
* a tool turn's results are numbered inside their write transaction and stored
  as one unit, so concurrent turns and chat messages never lose one (found by
  operation testing: ``harness.linearizability`` with ``reference_store.model``);
* hook events are written in ``BEGIN IMMEDIATE`` batches with one ``SAVEPOINT``
  per event (``ROLLBACK TO`` on error), acknowledged only after COMMIT, with
  transcript I/O outside the transaction; the watchdog checks and writes in one
  conditional ``UPDATE`` (ClosedLoop #234); ingestion is idempotent per event id
  (a retried delivery is acknowledged, never written twice; found by operation testing);
* ``busy_timeout`` is the first pragma on every connection.
"""

from __future__ import annotations

import asyncio
import functools
import sqlite3
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiosqlite

from ._db import Connect, Database
from ._sequencer import KeySequencer

FileIO = Callable[[str], Awaitable[bytes]]


async def _no_file_io(path: str) -> bytes:
    return b""


@dataclass(frozen=True)
class Message:
    """A durable chat message (subscribe-gap)."""

    id: int
    chat: str
    body: str


@dataclass(frozen=True)
class ToolEvent:
    """A tool's result, as emitted to the UI."""

    index: int
    name: str
    result: str
    at: float


@dataclass(frozen=True)
class HookEvent:
    """One hook invocation: its rows are stored all-or-nothing."""

    id: str
    session: str
    parts: tuple[str, ...]
    transcript_path: str = ""


@dataclass
class MessageCache:
    """The per-process durable-message cache (filled after each commit)."""

    messages: list[Message] = field(default_factory=list)

    def add(self, message: Message) -> None:
        self.messages.append(message)

    def after(self, chat: str, after_id: int) -> list[Message]:
        return [m for m in self.messages if m.chat == chat and m.id > after_id]


class ReferenceStore:
    """See the module docstring. Open with ``await ReferenceStore.open(connect, path)``."""

    def __init__(
        self,
        connect: Connect,
        path: str,
        *,
        file_io: FileIO = _no_file_io,
        busy_timeout_ms: int = 5000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db = Database(connect, path, busy_timeout_ms=busy_timeout_ms)
        self._file_io = file_io
        self._clock = clock
        self._metadata = KeySequencer()
        self.cache = MessageCache()
        self._hook_queue: list[tuple[HookEvent, asyncio.Future[str]]] = []
        self._hook_drain: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, connect: Connect, path: str, **options: Any) -> ReferenceStore:
        store = cls(connect, path, **options)
        await store.db.open()
        return store

    async def close(self) -> None:
        await self.when_idle()
        await self.db.close()

    async def when_idle(self) -> None:
        """Wait for queued metadata writes and hook batches."""
        await self._metadata.when_idle()
        while self._hook_drain is not None and not self._hook_drain.done():
            await asyncio.wait([self._hook_drain])

    # ------------------------------------------------------------- metadata
    def set_metadata(self, key: str, value: str) -> asyncio.Task[None]:
        """Queue a last-writer-wins write; chained per key at call time."""

        async def write() -> None:
            async def upsert(db: aiosqlite.Connection) -> None:
                await db.execute(
                    "INSERT OR REPLACE INTO metadata(key, value) VALUES (?, ?)", (key, value)
                )

            await self.db.write(upsert)

        return self._metadata.queue(key, write)

    async def get_metadata(self, key: str) -> str | None:
        rows = await self.db.query("SELECT value FROM metadata WHERE key = ?", (key,))
        return rows[0][0] if rows else None

    # ------------------------------------------------------------- sessions
    async def update_session(self, session: str, **fields: Any) -> None:
        """Create or update a session row (rename, model switch, activity)."""
        allowed = {"title", "model", "last_activity"}
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f"unknown session fields: {sorted(unknown)}")

        async def upsert(db: aiosqlite.Connection) -> None:
            await db.execute("INSERT OR IGNORE INTO sessions(id) VALUES (?)", (session,))
            for name in sorted(fields):
                await db.execute(
                    f"UPDATE sessions SET {name} = ? WHERE id = ?", (fields[name], session)
                )

        await self.db.write(upsert)

    async def session(self, session: str) -> dict[str, Any] | None:
        rows = await self.db.query(
            "SELECT id, title, model, last_activity, ended, ended_at FROM sessions WHERE id = ?",
            (session,),
        )
        if not rows:
            return None
        keys = ("id", "title", "model", "last_activity", "ended", "ended_at")
        return dict(zip(keys, rows[0], strict=True))

    # ------------------------------------------------------------- transcript
    async def append_message(self, session: str, seq: int, role: str, body: str) -> bool:
        """Store message ``seq`` of ``session`` once; False if it was already stored."""

        async def insert(db: aiosqlite.Connection) -> bool:
            cursor = await db.execute(
                "INSERT OR IGNORE INTO messages(session_id, seq, role, body) VALUES (?, ?, ?, ?)",
                (session, seq, role, body),
            )
            return cursor.rowcount == 1

        return await self.db.write(insert)

    async def transcript(self, session: str) -> list[tuple[int, str, str]]:
        """``(seq, role, body)`` of a session's messages, in order."""
        rows = await self.db.query(
            "SELECT seq, role, body FROM messages WHERE session_id = ? ORDER BY seq", (session,)
        )
        return [(int(r[0]), str(r[1]), str(r[2])) for r in rows]

    async def stored_prefix(self, session: str) -> int:
        """How many messages of ``session`` are durable (the flush cursor after a restart)."""
        rows = await self.db.query(
            "SELECT COALESCE(MAX(seq) + 1, 0) FROM messages WHERE session_id = ?", (session,)
        )
        return int(rows[0][0])

    async def run_tool_calls(
        self,
        session: str,
        calls: Sequence[str],
        execute: Callable[[int, str], Awaitable[str]],
        emit: Callable[[ToolEvent], None],
    ) -> None:
        """Run tool calls concurrently; emit each result as it finishes; persist the turn.

        The results are appended after the transcript, in call order, in one
        write transaction once every tool has finished. Their sequence numbers
        are read inside that transaction (under the write lock) and inserted
        with a plain ``INSERT``, so a concurrent turn or chat message on the
        same session can neither take them nor make a result vanish silently;
        and a turn is stored whole or not at all — a turn cancelled (or whose
        tool raised) before its results were written stores none of them.
        """

        async def worker(index: int, name: str) -> str:
            result = await execute(index, name)
            emit(ToolEvent(index, name, result, self._clock()))
            return f"{name}: {result}"

        bodies = await asyncio.gather(*(worker(i, name) for i, name in enumerate(calls)))
        if not bodies:
            return

        async def append_turn(db: aiosqlite.Connection) -> None:
            rows = await db.execute_fetchall(
                "SELECT COALESCE(MAX(seq) + 1, 0) FROM messages WHERE session_id = ?", (session,)
            )
            base = int(next(iter(rows))[0])
            await db.executemany(
                "INSERT INTO messages(session_id, seq, role, body) VALUES (?, ?, 'tool', ?)",
                [(session, base + i, body) for i, body in enumerate(bodies)],
            )

        await self.db.write(append_turn)

    async def save_asset(self, session: str, name: str, path: str) -> None:
        """Read the asset (slow file I/O) first; take the write lock only for the row."""
        data = await self._file_io(path)

        async def insert(db: aiosqlite.Connection) -> None:
            await db.execute(
                "INSERT OR REPLACE INTO assets(session_id, name, size) VALUES (?, ?, ?)",
                (session, name, len(data)),
            )

        await self.db.write(insert)

    # ---------------------------------------------------------- subscriptions
    async def insert_message(self, chat: str, body: str) -> Message:
        """Commit a chat message and put it in the durable cache (the caller notifies)."""

        async def insert(db: aiosqlite.Connection) -> int:
            seq_rows = await db.execute_fetchall(
                "SELECT COALESCE(MAX(seq) + 1, 0) FROM messages WHERE session_id = ?", (chat,)
            )
            cursor = await db.execute(
                "INSERT INTO messages(session_id, seq, role, body) VALUES (?, ?, 'chat', ?)",
                (chat, next(iter(seq_rows))[0], body),
            )
            assert cursor.lastrowid is not None
            return int(cursor.lastrowid)

        message = Message(await self.db.write(insert), chat, body)
        self.cache.add(message)
        return message

    async def messages_after(self, chat: str, after_id: int) -> list[Message]:
        rows = await self.db.query(
            "SELECT id, body FROM messages WHERE session_id = ? AND id > ? ORDER BY id",
            (chat, after_id),
        )
        return [Message(int(r[0]), chat, str(r[1])) for r in rows]

    def subscriber(self, chat: str, after_id: int) -> Subscriber:
        return Subscriber(self, chat, after_id)

    # ------------------------------------------------------------- hooks
    async def ingest(self, event: HookEvent) -> str:
        """Store a hook event's rows all-or-nothing; return the ack only after COMMIT."""
        transcript = await self._file_io(event.transcript_path) if event.transcript_path else b""
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._hook_queue.append((event, future))
        if self._hook_drain is None or self._hook_drain.done():
            self._hook_drain = asyncio.ensure_future(self._drain_hooks())
        del transcript  # extracted outside the transaction; parsing is not modelled
        return await future

    async def _drain_hooks(self) -> None:
        while self._hook_queue:
            batch, self._hook_queue = self._hook_queue, []
            write = functools.partial(self._write_batch, batch=batch)
            try:
                outcomes = await self.db.write(write)
            except BaseException as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                if not isinstance(exc, Exception):
                    raise
                continue
            # acknowledged only now, after COMMIT; outcomes are per batch position, so a
            # duplicate's outcome never overwrites the first delivery's
            for (event, future), error in zip(batch, outcomes, strict=True):
                if future.done():
                    continue
                if error is None:
                    future.set_result(f"ack:{event.id}")
                else:
                    future.set_exception(error)

    async def _write_batch(
        self, db: aiosqlite.Connection, batch: Sequence[tuple[HookEvent, asyncio.Future[str]]]
    ) -> list[BaseException | None]:
        """One savepoint per event: a failing event rolls back to it; the others stay.

        An event whose rows are already stored (a retried delivery, or the same
        event twice in one batch) is acknowledged again and written nothing:
        hook delivery is at-least-once, so ingestion is idempotent per event id.
        An event with no parts stores no rows, so only its session activity is
        (re)recorded.
        """
        outcomes: list[BaseException | None] = []
        now = self._clock()
        for event, _ in batch:
            stored = await db.execute_fetchall(
                "SELECT 1 FROM hook_rows WHERE event_id = ? LIMIT 1", (event.id,)
            )
            if stored:
                outcomes.append(None)
                continue
            await db.execute("SAVEPOINT hook")
            try:
                for part, body in enumerate(event.parts):
                    await db.execute(
                        "INSERT INTO hook_rows(event_id, part, session_id, body) "
                        "VALUES (?, ?, ?, ?)",
                        (event.id, part, event.session, body),
                    )
                await db.execute(
                    "INSERT INTO sessions(id, last_activity) VALUES (?, ?) ON CONFLICT(id) "
                    "DO UPDATE SET last_activity = excluded.last_activity, ended = 0",
                    (event.session, now),
                )
            except sqlite3.Error as exc:
                await db.execute("ROLLBACK TO hook")
                outcomes.append(exc)
            else:
                outcomes.append(None)
            await db.execute("RELEASE hook")
        return outcomes

    async def end_idle_sessions(self, idle: float) -> int:
        """The watchdog's step: end sessions idle for ``idle`` seconds, atomically."""
        now = self._clock()

        async def end(db: aiosqlite.Connection) -> int:
            cursor = await db.execute(
                "UPDATE sessions SET ended = 1, ended_at = ? "
                "WHERE ended = 0 AND last_activity <= ?",
                (now, now - idle),
            )
            return max(cursor.rowcount, 0)

        return await self.db.write(end)


class Subscriber:
    """A live subscription that merges the cache and the database on every notification.

    Invariant: every message with id above ``floor`` is delivered exactly once
    (given a notification after its commit), and nothing at or below it.
    """

    def __init__(self, store: ReferenceStore, chat: str, after_id: int) -> None:
        self._store = store
        self.chat = chat
        self.floor = after_id
        self.last = after_id
        self.delivered: set[int] = set()

    def _take(self, messages: Sequence[Message]) -> list[Message]:
        fresh = [m for m in messages if m.id > self.floor and m.id not in self.delivered]
        for m in fresh:
            self.delivered.add(m.id)
            self.last = max(self.last, m.id)
        return fresh

    async def start(self) -> list[Message]:
        """The initial snapshot from the database."""
        return self._take(await self._store.messages_after(self.chat, self.floor))

    async def on_notify(self, after_id: int) -> list[Message]:
        """Deliver what a notification announces, and anything missed before it."""
        lookup = max(min(after_id, self.last), self.floor)
        out = self._take(self._store.cache.after(self.chat, lookup))
        out += self._take(await self._store.messages_after(self.chat, lookup))
        return out
