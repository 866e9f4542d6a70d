"""Lock conflicts come from SQLite itself; busy_timeout runs in virtual time."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

import harness


async def _setup(sim: harness.Sim, wal: bool = False) -> None:
    async with sim.connect("lock.db", isolation_level=None) as db:
        if wal:
            await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("CREATE TABLE IF NOT EXISTS c(id INTEGER PRIMARY KEY, n INTEGER)")
        await db.execute("INSERT OR IGNORE INTO c VALUES (1, 0)")
        await db.execute("CREATE TABLE IF NOT EXISTS big(x)")
        await db.execute("BEGIN")
        await db.executemany("INSERT INTO big VALUES (?)", [(i,) for i in range(300)])
        await db.execute("COMMIT")


def read_then_write(begin: str):
    async def body(sim: harness.Sim) -> None:
        await _setup(sim)

        async def increment() -> None:
            async with sim.connect("lock.db", timeout=5, isolation_level=None) as db:
                await db.execute(begin)
                async with db.execute("SELECT n FROM c WHERE id = 1") as cur:
                    (n,) = await cur.fetchone()
                await db.execute("UPDATE c SET n = ? WHERE id = 1", (n + 1,))
                await db.execute("COMMIT")

        await asyncio.gather(increment(), increment())
        async with sim.connect("lock.db") as db:
            rows = await db.execute_fetchall("SELECT n FROM c")
        assert rows[0][0] == 2

    return body


def test_deferred_read_then_write_gets_busy_at_once_even_with_a_timeout() -> None:
    result = harness.explore(read_then_write("BEGIN"), schedules=500, strategy="pct")
    assert result.failed
    error = result.failures[0].error
    assert isinstance(error, sqlite3.OperationalError)
    assert error.sqlite_errorname == "SQLITE_BUSY" and str(error) == "database is locked"
    # SQLite skipped the busy handler: the upgrade failed at once, no virtual time passed
    assert "0.000s" in result.failures[0].timeline.splitlines()[-1]


@pytest.mark.parametrize("strategy", ["random", "pct"])
def test_begin_immediate_never_fails(strategy: str) -> None:
    result = harness.explore(read_then_write("BEGIN IMMEDIATE"), schedules=1_000, strategy=strategy)
    assert not result.failed, result.failures and result.failures[0].timeline


def test_begin_immediate_never_fails_exhaustively() -> None:
    result = harness.explore(
        read_then_write("BEGIN IMMEDIATE"), schedules=20_000, strategy=harness.Exhaustive(2)
    )
    assert not result.failed and result.exhausted


async def commit_waits_for_reader(sim: harness.Sim) -> None:
    await _setup(sim)
    reader_open = asyncio.Event()
    closed_at: list[float] = []

    async def reader() -> None:
        async with sim.connect("lock.db") as db:
            cursor = await db.execute("SELECT x FROM big")  # holds SHARED while rows remain
            await cursor.fetchone()
            reader_open.set()
            await asyncio.sleep(2)
            await cursor.close()
            closed_at.append(sim.now())

    async def writer() -> None:
        await reader_open.wait()
        async with sim.connect("lock.db", timeout=5, isolation_level=None) as db:
            await db.execute("BEGIN IMMEDIATE")  # RESERVED coexists with the reader's SHARED
            await db.execute("UPDATE c SET n = n + 1")
            await db.execute("COMMIT")  # needs EXCLUSIVE: waits for the reader
            sim.notes["committed_at"] = sim.now()

    await asyncio.gather(reader(), writer())
    assert sim.notes["committed_at"] == closed_at[0] == 2.0


def test_rollback_journal_commit_waits_for_a_readers_cursor_to_close() -> None:
    result = harness.explore(commit_waits_for_reader, schedules=300, strategy="random")
    assert not result.failed, result.failures and result.failures[0].timeline
    token_run = harness.explore(_fail_after(commit_waits_for_reader), schedules=1)
    timeline = token_run.failures[0].timeline
    assert "COMMIT -> database is locked; waits for the lock" in timeline
    assert "released its lock" in timeline


def _fail_after(body):
    async def failing(sim: harness.Sim) -> None:
        await body(sim)
        raise AssertionError("show the timeline")

    return failing


async def commit_times_out(sim: harness.Sim) -> None:
    await _setup(sim)
    async with sim.connect("lock.db") as reader:
        cursor = await reader.execute("SELECT x FROM big")
        await cursor.fetchone()
        async with sim.connect("lock.db", timeout=1.5, isolation_level=None) as db:
            await db.execute("BEGIN IMMEDIATE")
            await db.execute("UPDATE c SET n = 7")
            with pytest.raises(sqlite3.OperationalError, match="database is locked"):
                await db.execute("COMMIT")
            assert sim.now() == 1.5  # the busy_timeout expired in virtual time
            assert db.in_transaction  # the transaction stays open; COMMIT may be retried
            await cursor.close()
            await db.execute("COMMIT")
        async with reader.execute("SELECT n FROM c") as cur:
            assert (await cur.fetchone())[0] == 7


def test_busy_timeout_expires_in_virtual_time_and_commit_can_be_retried() -> None:
    result = harness.explore(commit_times_out, schedules=200, strategy="random")
    assert not result.failed, result.failures and result.failures[0].timeline


async def pragma_busy_timeout(sim: harness.Sim) -> None:
    await _setup(sim)
    async with (
        sim.connect("lock.db", isolation_level=None) as holder,
        sim.connect("lock.db", timeout=0, isolation_level=None) as waiter,
    ):
        await holder.execute("BEGIN IMMEDIATE")
        rows = await waiter.execute_fetchall("PRAGMA busy_timeout")
        assert rows[0][0] == 0
        with pytest.raises(sqlite3.OperationalError):  # timeout=0: no waiting at all
            await waiter.execute("BEGIN IMMEDIATE")
        assert sim.now() == 0
        await waiter.execute("PRAGMA busy_timeout = 3000")
        assert (await waiter.execute_fetchall("PRAGMA busy_timeout"))[0][0] == 3000

        async def release_later() -> None:
            await asyncio.sleep(2)
            await holder.execute("COMMIT")

        releaser = asyncio.create_task(release_later())
        await waiter.execute("BEGIN IMMEDIATE")  # waits 2 s of virtual time, then gets it
        assert sim.now() == 2.0
        await waiter.execute("COMMIT")
        await releaser


def test_pragma_busy_timeout_is_honoured_and_readable() -> None:
    result = harness.explore(pragma_busy_timeout, schedules=100, strategy="random")
    assert not result.failed, result.failures and result.failures[0].timeline


async def wal_snapshot_conflict(sim: harness.Sim) -> None:
    await _setup(sim, wal=True)
    async with (
        sim.connect("lock.db", timeout=5, isolation_level=None) as reader,
        sim.connect("lock.db", timeout=5, isolation_level=None) as writer,
    ):
        await reader.execute("BEGIN")
        await reader.execute_fetchall("SELECT n FROM c")  # the snapshot is taken here
        await writer.execute("UPDATE c SET n = 1")  # commits after the snapshot
        with pytest.raises(sqlite3.OperationalError) as info:
            await reader.execute("UPDATE c SET n = 2")
        assert info.value.sqlite_errorname == "SQLITE_BUSY_SNAPSHOT"
        assert info.value.sqlite_errorcode == 517
        assert sim.now() == 0  # at once: no busy handler
        await reader.execute("ROLLBACK")


def test_wal_snapshot_conflict_gives_busy_snapshot() -> None:
    result = harness.explore(wal_snapshot_conflict, schedules=100, strategy="random")
    assert not result.failed, result.failures and result.failures[0].timeline


async def wal_readers_and_writer_coexist(sim: harness.Sim) -> None:
    await _setup(sim, wal=True)
    async with (
        sim.connect("lock.db", timeout=0, isolation_level=None) as reader,
        sim.connect("lock.db", timeout=0, isolation_level=None) as writer,
    ):
        await reader.execute("BEGIN")
        before = await reader.execute_fetchall("SELECT n FROM c")
        await writer.execute("BEGIN IMMEDIATE")
        await writer.execute("UPDATE c SET n = 5")
        await writer.execute("COMMIT")  # WAL: no wait for the reader
        assert await reader.execute_fetchall("SELECT n FROM c") == before  # snapshot kept
        await reader.execute("COMMIT")
        assert (await reader.execute_fetchall("SELECT n FROM c"))[0][0] == 5


def test_wal_readers_do_not_block_the_writer_and_keep_their_snapshot() -> None:
    assert not harness.explore(
        wal_readers_and_writer_coexist, schedules=100, strategy="random"
    ).failed


async def transaction_errors(sim: harness.Sim) -> None:
    async with sim.connect("tx.db", isolation_level=None) as db:
        await db.execute("BEGIN")
        with pytest.raises(
            sqlite3.OperationalError, match="cannot start a transaction within a transaction"
        ):
            await db.execute("BEGIN")
        await db.execute("ROLLBACK")
        await db.execute("SAVEPOINT a")
        assert db.in_transaction  # SAVEPOINT outside a transaction acts as BEGIN DEFERRED
        await db.execute("CREATE TABLE t(x)")
        await db.execute("SAVEPOINT b")
        await db.execute("INSERT INTO t VALUES (1)")
        await db.execute("ROLLBACK TO b")
        assert db.in_transaction  # ROLLBACK TO keeps the transaction and the savepoint
        await db.execute("RELEASE b")
        with pytest.raises(sqlite3.OperationalError, match="no such savepoint: nosuch"):
            await db.execute("RELEASE nosuch")
        await db.execute("RELEASE a")
        assert not db.in_transaction
        assert await db.execute_fetchall("SELECT count(*) FROM t") == [(0,)]


def test_nested_begin_and_savepoint_errors_match_sqlite() -> None:
    assert not harness.explore(transaction_errors, schedules=10).failed


async def executemany_waits_for_the_lock(sim: harness.Sim) -> None:
    a = await sim.connect("many.db", isolation_level=None, timeout=5)
    b = await sim.connect("many.db", isolation_level=None, timeout=5)
    await a.execute("CREATE TABLE t(x)")
    await b.execute("BEGIN IMMEDIATE")

    async def release() -> None:
        await asyncio.sleep(1)
        await b.execute("COMMIT")

    releaser = asyncio.create_task(release())
    await a.executemany("INSERT INTO t VALUES (?)", (i for i in [(0,), (1,), (2,)]))
    assert sim.now() == 1.0
    await releaser
    assert await a.execute_fetchall("SELECT x FROM t") == [(0,), (1,), (2,)]
    await a.close()
    await b.close()


def test_executemany_waits_for_the_lock_and_runs_each_row_once() -> None:
    result = harness.explore(executemany_waits_for_the_lock, schedules=200, strategy="random")
    assert not result.failed, result.failures and result.failures[0].timeline
