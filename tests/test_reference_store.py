"""reference_store on real aiosqlite (stock asyncio loop, real threads)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiosqlite
import pytest

from harness.reference_store import HookEvent, KeySequencer, ReferenceStore, ToolEvent


def run(body: Callable[[ReferenceStore], Awaitable[Any]], path: Path, **options: Any) -> Any:
    async def main() -> Any:
        store = await ReferenceStore.open(aiosqlite.connect, str(path), **options)
        try:
            return await body(store)
        finally:
            await store.close()

    return asyncio.run(main())


def test_sequencer_runs_one_key_in_call_order_and_swallows_failures() -> None:
    async def main() -> list[str]:
        seq = KeySequencer()
        log: list[str] = []

        async def step(name: str, fail: bool = False, delay: float = 0.0) -> str:
            await asyncio.sleep(delay)
            log.append(name)
            if fail:
                raise RuntimeError(name)
            return name

        a = seq.queue("k", lambda: step("a", fail=True, delay=0.01))
        b = seq.queue("k", lambda: step("b"))
        other = seq.queue("j", lambda: step("other"))
        assert seq.pending("k") and seq.pending("j")
        with pytest.raises(RuntimeError):
            await a
        assert await b == "b"  # a's failure did not stop b
        assert await other == "other"
        await seq.when_idle()
        assert not seq.pending("k")  # entries are dropped when idle
        return log

    assert asyncio.run(main()) == ["other", "a", "b"]  # other keys never wait


def test_busy_timeout_is_the_first_pragma(tmp_path: Path) -> None:
    traced: list[str] = []

    def connect(path: str, **kwargs: Any) -> Any:
        conn = aiosqlite.connect(path, **kwargs)

        async def traced_open() -> Any:
            db = await conn
            await db.set_trace_callback(traced.append)
            return db

        return traced_open()

    async def main() -> None:
        store = await ReferenceStore.open(connect, str(tmp_path / "t2.db"))
        await store.close()

    asyncio.run(main())
    pragmas = [s for s in traced if s.upper().startswith("PRAGMA")]
    assert pragmas and pragmas[0].upper().startswith("PRAGMA BUSY_TIMEOUT")


def test_metadata_last_writer_wins_across_a_restart(tmp_path: Path) -> None:
    async def write(store: ReferenceStore) -> None:
        store.set_metadata("config", "main")
        store.set_metadata("config", "release")
        await store.when_idle()

    async def read(store: ReferenceStore) -> str | None:
        return await store.get_metadata("config")

    run(write, tmp_path / "m.db")
    assert run(read, tmp_path / "m.db") == "release"


def test_tool_results_are_persisted_in_call_order_and_emitted_when_each_finishes(
    tmp_path: Path,
) -> None:
    log: list[tuple[str, int]] = []

    async def body(store: ReferenceStore) -> list[tuple[int, str, str]]:
        async def execute(index: int, name: str) -> str:
            await asyncio.sleep((3 - index) * 0.02)  # later calls finish first
            log.append(("finished", index))
            return f"r{index}"

        def emit(event: ToolEvent) -> None:
            log.append(("emitted", event.index))

        await store.run_tool_calls("s", ["a", "b", "c"], execute, emit)
        return await store.transcript("s")

    transcript = run(body, tmp_path / "w.db")
    assert [body for _, _, body in transcript] == ["a: r0", "b: r1", "c: r2"]
    # each result event is emitted as its tool finishes, not after the slowest one
    assert log == [
        ("finished", 2),
        ("emitted", 2),
        ("finished", 1),
        ("emitted", 1),
        ("finished", 0),
        ("emitted", 0),
    ]


def test_asset_io_happens_before_the_write_lock(tmp_path: Path) -> None:
    seen: list[bool] = []

    async def body(store: ReferenceStore) -> None:
        io_started, io_may_end = asyncio.Event(), asyncio.Event()

        async def slow_read(path: str) -> bytes:
            seen.append(store.db.in_write_transaction())
            io_started.set()
            await io_may_end.wait()  # the asset's file I/O lasts until the metadata is written
            return b"12345"

        store._file_io = slow_read
        task = asyncio.ensure_future(store.save_asset("s", "a.png", "a.png"))
        await io_started.wait()
        # would hang (and time out) if the write lock were held across the asset's I/O
        await asyncio.wait_for(store.set_metadata("k", "v"), timeout=30)
        io_may_end.set()
        await task

    run(body, tmp_path / "a.db")
    assert seen == [False]


def test_subscriber_delivers_each_message_once_whatever_the_notification_order(
    tmp_path: Path,
) -> None:
    async def body(store: ReferenceStore) -> list[int]:
        for text in ("1", "2", "3", "4"):
            await store.insert_message("c", text)
        sub = store.subscriber("c", after_id=2)
        delivered = [m.id for m in await sub.start()]
        for text in ("5", "6", "7"):
            await store.insert_message("c", text)
        for after in (6, 4, 5, 4):  # reordered and repeated notifications
            delivered += [m.id for m in await sub.on_notify(after)]
        return delivered

    delivered = run(body, tmp_path / "s.db")
    assert sorted(delivered) == [3, 4, 5, 6, 7] and len(delivered) == len(set(delivered))


def test_append_message_is_idempotent_and_the_cursor_is_recovered(tmp_path: Path) -> None:
    async def body(store: ReferenceStore) -> tuple[list[bool], int, int]:
        results = [
            await store.append_message("s", 0, "user", "hi"),
            await store.append_message("s", 0, "user", "hi"),
            await store.append_message("s", 1, "assistant", "hello"),
        ]
        return results, await store.stored_prefix("s"), len(await store.transcript("s"))

    results, prefix, rows = run(body, tmp_path / "f.db")
    assert results == [True, False, True] and prefix == 2 and rows == 2


def test_a_cancelled_append_still_commits_its_transaction(tmp_path: Path) -> None:
    async def body(store: ReferenceStore) -> tuple[bool, int]:
        task = asyncio.ensure_future(store.append_message("s", 0, "user", "hi"))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(0.05)
        # the writer is not stuck inside BEGIN: the next write works
        ok = await store.append_message("s", 1, "user", "again")
        return ok, await store.stored_prefix("s")

    ok, prefix = run(body, tmp_path / "c.db")
    assert ok and prefix == 2


def test_hooks_are_all_or_nothing_and_acked_after_commit(tmp_path: Path) -> None:
    good = HookEvent("good", "s", ("a", "b"))
    bad = HookEvent("bad", "s", ("a", None))  # type: ignore[arg-type]

    async def body(store: ReferenceStore) -> tuple[list[Any], list[tuple[Any, ...]]]:
        outcomes = await asyncio.gather(
            store.ingest(good), store.ingest(bad), return_exceptions=True
        )
        rows = await store.db.query("SELECT event_id, part FROM hook_rows ORDER BY 1, 2")
        return list(outcomes), rows

    outcomes, rows = run(body, tmp_path / "h.db")
    assert outcomes[0] == "ack:good"
    assert isinstance(outcomes[1], sqlite3.IntegrityError)
    assert rows == [("good", 0), ("good", 1)]  # nothing of the bad event, all of the good


def test_watchdog_ends_only_sessions_idle_at_the_moment_it_writes(tmp_path: Path) -> None:
    now = [100.0]

    async def body(store: ReferenceStore) -> list[tuple[Any, ...]]:
        await store.update_session("idle", last_activity=10.0)
        await store.update_session("busy", last_activity=99.0)
        ended = await store.end_idle_sessions(15.0)
        assert ended == 1
        return await store.db.query("SELECT id, ended FROM sessions ORDER BY id")

    rows = run(body, tmp_path / "d.db", clock=lambda: now[0])
    assert rows == [("busy", 0), ("idle", 1)]


def test_update_session_rejects_unknown_fields(tmp_path: Path) -> None:
    async def body(store: ReferenceStore) -> None:
        with pytest.raises(ValueError, match="unknown session fields"):
            await store.update_session("s", colour="red")

    run(body, tmp_path / "u.db")


def test_concurrent_tool_turns_on_one_session_keep_every_result(tmp_path: Path) -> None:
    async def body(store: ReferenceStore) -> list[str]:
        async def execute(index: int, name: str) -> str:
            await asyncio.sleep(0.001 * (2 - index))
            return f"r{index}"

        await asyncio.gather(
            store.run_tool_calls("s", ["a", "b"], execute, lambda e: None),
            store.run_tool_calls("s", ["c", "d"], execute, lambda e: None),
        )
        return [body for _, _, body in await store.transcript("s")]

    bodies = run(body, tmp_path / "turns.db")
    assert sorted(bodies) == ["a: r0", "b: r1", "c: r0", "d: r1"]
    assert bodies in (["a: r0", "b: r1", "c: r0", "d: r1"], ["c: r0", "d: r1", "a: r0", "b: r1"])


def test_a_chat_message_during_a_tool_turn_does_not_take_its_sequence_number(
    tmp_path: Path,
) -> None:
    async def body(store: ReferenceStore) -> list[tuple[int, str, str]]:
        chatted = asyncio.Event()

        async def execute(index: int, name: str) -> str:
            await chatted.wait()  # the chat message commits while the tool runs
            return "done"

        async def chat() -> None:
            await store.insert_message("s", "hello")
            chatted.set()

        await asyncio.gather(store.run_tool_calls("s", ["grep"], execute, lambda e: None), chat())
        return await store.transcript("s")

    assert run(body, tmp_path / "chat.db") == [(0, "chat", "hello"), (1, "tool", "grep: done")]


def test_a_hook_event_ingested_twice_is_acknowledged_both_times_and_stored_once(
    tmp_path: Path,
) -> None:
    event = HookEvent("e", "s", ("a", "b"))

    async def body(store: ReferenceStore) -> tuple[list[Any], str, list[tuple[Any, ...]]]:
        same_batch = await asyncio.gather(store.ingest(event), store.ingest(event))
        redelivered = await store.ingest(event)
        rows = await store.db.query("SELECT event_id, part, body FROM hook_rows ORDER BY part")
        return list(same_batch), redelivered, rows

    same_batch, redelivered, rows = run(body, tmp_path / "dup.db")
    assert same_batch == ["ack:e", "ack:e"] and redelivered == "ack:e"
    assert rows == [("e", 0, "a"), ("e", 1, "b")]
