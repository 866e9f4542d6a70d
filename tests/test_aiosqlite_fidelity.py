"""Differential tests: aiosqlite inside a simulation behaves as real aiosqlite (issue 10).

Each test runs one *probe* — a coroutine that uses aiosqlite as application
code does and records what it observes — twice: with real aiosqlite on the
stock event loop (its real worker thread), and as a harness body under a
few random and PCT schedules. The observations must be equal. Observations
never contain paths or memory addresses.

Probes that real aiosqlite answers differently depending on timing are not
used; each probe's comment says what it pins down.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import os
import re
import sqlite3
import threading
import warnings
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiosqlite
import pytest

import harness

Observations = list[tuple[Any, ...]]
Probe = Callable[[str, Observations], Awaitable[None]]
HAS_STOP = hasattr(aiosqlite.Connection, "stop")  # aiosqlite >= 0.22
needs_stop = pytest.mark.skipif(not HAS_STOP, reason="aiosqlite < 0.22 has no stop()")


async def set_authorizer(db: Any, authorizer: Any) -> None:
    """``db.set_authorizer`` (aiosqlite >= 0.22), or the job it puts on the worker."""
    if hasattr(db, "set_authorizer"):
        await db.set_authorizer(authorizer)
    else:
        await db._execute(db._conn.set_authorizer, authorizer)


def _error(exc: BaseException) -> tuple[str, str]:
    # sqlite3's thread error names both thread ids: keep the part before them
    return type(exc).__name__, str(exc).split(". The object was created in thread id")[0]


async def attempt(obs: Observations, label: str, action: Any) -> Any:
    """Record what ``action`` (an awaitable, or a callable) gives: a plain value, or its error."""
    try:
        value = action() if callable(action) else action
        if isinstance(value, Awaitable):
            value = await value
    except Exception as exc:
        obs.append((label, "error", *_error(exc)))
        return None
    shown = value if isinstance(value, int | str | bool | list | tuple | type(None)) else None
    obs.append((label, "ok", shown if shown is not None else type(value).__name__))
    return value


def value_of(obs: Observations, label: str) -> Any:
    """The last field of the first observation with that label."""
    return next(entry[-1] for entry in obs if entry[0] == label)


def on_real_aiosqlite(probe: Probe, folder: Path) -> Observations:
    folder.mkdir()
    obs: Observations = []
    asyncio.run(probe(str(folder / "probe.db"), obs))
    return obs


def in_harness(probe: Probe, folder: Path, schedules: int = 3) -> list[Observations]:
    folder.mkdir()
    path = str(folder / "probe.db")
    seen: list[Observations] = []

    async def body(sim: harness.Sim) -> None:
        obs: Observations = []
        seen.append(obs)
        await probe(path, obs)

    for strategy in ("random", "pct"):
        result = harness.explore(body, schedules=schedules, strategy=strategy, shrink=False)
        assert not result.failed, f"{result.failures[0].error!r}\n{result.failures[0].timeline}"
    assert not os.path.exists(path), "harness wrote the user's file"
    return seen


def assert_same(probe: Probe, tmp_path: Path) -> Observations:
    real = on_real_aiosqlite(probe, tmp_path / "real")
    for simulated in in_harness(probe, tmp_path / "sim"):
        assert len(simulated) == len(real), (simulated, real)
        for got, expected in zip(simulated, real, strict=True):
            assert got == expected, f"simulated {got!r} != real {expected!r}"
    return real


# ---------------------------------------------------------------------- stop()
async def stop_probe(path: str, obs: Observations) -> None:
    """stop() closes the sqlite3 connection: its locks and open transaction are gone."""
    db = await aiosqlite.connect(path)
    await db.execute("CREATE TABLE t(x)")
    await db.commit()
    await db.execute("BEGIN IMMEDIATE")
    await db.execute("INSERT INTO t VALUES (1)")
    stopped = db.stop()
    if stopped is not None:
        await stopped
    obs.append(("_connection after stop", db._connection is None))
    other = await aiosqlite.connect(path, timeout=0)
    await attempt(obs, "another connection takes the write lock", other.execute("BEGIN IMMEDIATE"))
    await other.rollback()
    await attempt(
        obs, "the open transaction was rolled back", other.execute_fetchall("SELECT * FROM t")
    )
    await other.close()
    await attempt(obs, "close() after stop()", db.close())
    await attempt(obs, "execute after stop()", db.execute("SELECT 1"))
    again = db.stop()  # a job for a thread that has ended: its future never resolves
    obs.append(("stop() twice", type(again).__name__, again is not None and again.done()))


@needs_stop
def test_stop_closes_the_sqlite3_connection_and_close_after_it_is_quiet(tmp_path: Path) -> None:
    real = assert_same(stop_probe, tmp_path)
    assert ("_connection after stop", True) in real


async def stop_without_close_probe(path: str, obs: Observations) -> None:
    """stop() with statements still queued: they run first (FIFO), then the connection closes."""
    db = await aiosqlite.connect(path, isolation_level=None)
    await db.execute("CREATE TABLE t(x)")
    queued = [asyncio.ensure_future(db.execute("INSERT INTO t VALUES (?)", (i,))) for i in range(3)]
    await asyncio.sleep(0)  # the inserts are on the queue
    stopped = db.stop()
    for task in queued:
        await attempt(obs, "queued before stop()", task)
    if stopped is not None:
        await attempt(obs, "stop() future", stopped)
    async with aiosqlite.connect(path) as other:
        await attempt(obs, "rows", other.execute_fetchall("SELECT x FROM t ORDER BY x"))


@needs_stop
def test_statements_queued_before_stop_run_before_it(tmp_path: Path) -> None:
    assert_same(stop_without_close_probe, tmp_path)


# ---------------------------------------------------------- isolation_level
async def isolation_level_probe(path: str, obs: Observations) -> None:
    """The setter runs on the loop's thread: sqlite3 refuses it unless check_same_thread=False."""
    db = await aiosqlite.connect(path)
    for value in ("IMMEDIATE", "", None, "DEFERRED", "bogus"):
        await attempt(obs, f"set {value!r}", lambda v=value: setattr(db, "isolation_level", v))
        obs.append(("isolation_level", db.isolation_level))
    await db.close()
    free = await aiosqlite.connect(path, check_same_thread=False)
    for value in ("IMMEDIATE", "", None, "EXCLUSIVE", "bogus", "DEFERRED"):
        await attempt(
            obs, f"free: set {value!r}", lambda v=value: setattr(free, "isolation_level", v)
        )
        obs.append(("free: isolation_level", free.isolation_level))
    free.isolation_level = "IMMEDIATE"
    await free.execute("CREATE TABLE IF NOT EXISTS t(x)")
    await free.execute("INSERT INTO t VALUES (1)")  # sqlite3 begins with BEGIN IMMEDIATE
    obs.append(("in_transaction", free.in_transaction))
    async with aiosqlite.connect(path, timeout=0) as other:
        await attempt(obs, "IMMEDIATE holds the write lock", other.execute("BEGIN IMMEDIATE"))
    await free.commit()
    free.isolation_level = None
    await free.execute("INSERT INTO t VALUES (2)")
    obs.append(("autocommit: in_transaction", free.in_transaction))
    await free.close()


def test_isolation_level_setter_behaves_as_sqlite3_on_aiosqlite(tmp_path: Path) -> None:
    real = assert_same(isolation_level_probe, tmp_path)
    assert ("free: isolation_level", "") in real and ("in_transaction", True) in real


# ------------------------------------------------------------- journal mode
async def journal_mode_probe(path: str, obs: Observations) -> None:
    """PRAGMA journal_mode reads SQLite's real default, however it is asked."""
    db = await aiosqlite.connect(path)
    await attempt(obs, "execute_fetchall", db.execute_fetchall("PRAGMA journal_mode"))
    await attempt(obs, "with parameters", db.execute_fetchall("PRAGMA journal_mode", ()))
    await db.close()
    db = await aiosqlite.connect(path)
    await attempt(
        obs, "table-valued", db.execute_fetchall("select journal_mode from pragma_journal_mode")
    )
    await attempt(obs, "then PRAGMA", db.execute_fetchall("PRAGMA journal_mode"))
    async with db.execute("PRAGMA main.journal_mode") as cursor:
        await attempt(obs, "cursor", cursor.fetchall())
    await db.execute("CREATE TABLE t(x)")
    await db.commit()
    await attempt(obs, "set wal", db.execute_fetchall("PRAGMA journal_mode=WAL"))
    await db.close()
    async with aiosqlite.connect(path) as again:
        await attempt(obs, "wal persists", again.execute_fetchall("PRAGMA journal_mode"))
        await attempt(obs, "back to delete", again.execute_fetchall("PRAGMA journal_mode = delete"))


def test_journal_mode_reads_what_sqlite_reports(tmp_path: Path) -> None:
    real = assert_same(journal_mode_probe, tmp_path)
    assert [tuple(row) for row in value_of(real, "execute_fetchall")] == [("delete",)]


# --------------------------------------------------------------- user hooks
async def hooks_probe(path: str, obs: Observations) -> None:
    """A trace callback / authorizer / progress handler sees only the body's own statements."""
    db = await aiosqlite.connect(path)
    traced: list[str] = []
    authorized: list[tuple[Any, ...]] = []
    progress = [0]

    def authorizer(action: int, arg1: Any, arg2: Any, name: Any, trigger: Any) -> int:
        authorized.append((action, arg1, arg2))
        return sqlite3.SQLITE_OK

    def handler() -> int:
        progress[0] += 1
        return 0

    await db.set_trace_callback(traced.append)
    await set_authorizer(db, authorizer)
    await db.set_progress_handler(handler, 1)
    await db.execute("CREATE TABLE t(x)")
    await db.execute("INSERT INTO t VALUES (1)")
    await db.commit()
    await db.execute("PRAGMA busy_timeout = 100")
    await attempt(obs, "busy_timeout", db.execute_fetchall("PRAGMA busy_timeout"))
    await attempt(obs, "journal_mode", db.execute_fetchall("PRAGMA journal_mode"))
    await db.execute("SELECT * FROM t")
    await db.set_progress_handler(None, 0)
    obs.append(("traced", traced))
    obs.append(("authorized", authorized))
    obs.append(("progress handler called", progress[0] > 0))
    await db.set_trace_callback(None)
    await db.execute("SELECT 2")
    obs.append(("trace removed", traced[-1]))
    await db.close()


def test_harness_statements_are_invisible_to_user_hooks(tmp_path: Path) -> None:
    real = assert_same(hooks_probe, tmp_path)
    traced = value_of(real, "traced")
    assert "PRAGMA busy_timeout = 100" in traced and "SELECT * FROM t" in traced


async def deny_all_probe(path: str, obs: Observations) -> None:
    """An authorizer that denies everything fails the body's statements, as SQLite does."""
    db = await aiosqlite.connect(path)
    await db.execute("CREATE TABLE t(x)")
    await db.execute("INSERT INTO t VALUES (1)")  # an open transaction
    await set_authorizer(db, lambda *args: sqlite3.SQLITE_DENY)
    await attempt(obs, "select", db.execute("SELECT 1"))
    await attempt(obs, "journal_mode", db.execute("PRAGMA journal_mode"))
    await attempt(obs, "busy_timeout", db.execute("PRAGMA busy_timeout = 10"))
    await attempt(obs, "commit", db.commit())
    obs.append(("in_transaction", db.in_transaction))
    await attempt(obs, "rollback", db.rollback())
    await attempt(obs, "set_authorizer(None)", set_authorizer(db, None))
    await attempt(obs, "select after", db.execute_fetchall("SELECT count(*) FROM t"))
    await attempt(obs, "close", db.close())


def test_an_authorizer_that_denies_everything_behaves_as_on_real_aiosqlite(tmp_path: Path) -> None:
    real = assert_same(deny_all_probe, tmp_path)
    assert real[0][:3] == ("select", "error", "DatabaseError")


def test_an_authorizer_that_denies_everything_does_not_break_harness() -> None:
    """harness's own statements (journal mode, rollback at the end or at a crash) still run."""

    async def body(sim: harness.Sim) -> None:
        db = await sim.connect("deny.db")
        await db.execute("CREATE TABLE IF NOT EXISTS t(x)")
        await db.commit()
        rows = await db.execute_fetchall("SELECT count(*) FROM t")
        assert rows[0][0] == 0  # what a schedule (or a crash) left open was rolled back
        await db.execute("INSERT INTO t VALUES (1)")  # left open: rolled back at the end
        await set_authorizer(db, lambda *args: sqlite3.SQLITE_DENY)
        with pytest.raises(sqlite3.DatabaseError, match="not authorized"):
            await db.execute("PRAGMA journal_mode")
        other = await sim.connect("deny.db", timeout=0)
        await set_authorizer(other, lambda *args: sqlite3.SQLITE_DENY)
        with pytest.raises(sqlite3.DatabaseError, match="not authorized"):
            await other.execute("SELECT 1")
        await asyncio.sleep(1)  # a crash may strike while both deny-all connections are open

    result = harness.explore(body, schedules=20, strategy="random")
    assert not result.failed, result.failures[0].error

    recovered: list[int] = []

    async def faulted(sim: harness.Sim) -> None:
        recovered.append(sim.crashes)
        try:
            await body(sim)
        except sqlite3.OperationalError as exc:  # an injected fault: the body's, not harness's
            assert exc.sqlite_errorname in ("SQLITE_BUSY", "SQLITE_IOERR"), exc

    result = harness.explore(
        faulted,
        schedules=40,
        strategy="random",
        faults=harness.Faults(busy=1, ioerror=1, crash=1),
        recover=faulted,
    )
    assert not result.failed, result.failures[0].error
    assert max(recovered) >= 1  # some schedules crashed with deny-all connections open


# -------------------------------------------------------------- executemany
async def executemany_probe(path: str, obs: Observations) -> None:
    """executemany's iterable is iterated by the worker when the statement runs, row by row."""
    db = await aiosqlite.connect(path)
    await db.execute("CREATE TABLE t(x)")
    seen: list[str] = []
    await db.set_trace_callback(seen.append)

    class Rows:
        def __iter__(self) -> Any:
            seen.append("iter()")

            def rows() -> Any:
                for i in range(2):
                    seen.append(f"row {i}")
                    yield (i,)

            return rows()

    def generator() -> Any:
        for i in range(2, 4):
            seen.append(f"generated {i}")
            yield (i,)

    await asyncio.gather(  # queued behind SELECT 1: iterated only after it ran
        db.execute("SELECT 1"),
        db.executemany("INSERT INTO t VALUES (?)", Rows()),
        db.executemany("INSERT INTO t VALUES (?)", generator()),
    )
    for bad in (None, 5):
        await attempt(obs, f"executemany({bad!r})", db.executemany("INSERT INTO t VALUES (?)", bad))
    await db.set_trace_callback(None)
    obs.append(("order", seen))
    await attempt(obs, "rows", db.execute_fetchall("SELECT x FROM t ORDER BY x"))
    await db.close()


def test_executemany_iterates_its_rows_when_the_statement_runs(tmp_path: Path) -> None:
    real = assert_same(executemany_probe, tmp_path)
    order = value_of(real, "order")
    assert order.index("SELECT 1") < order.index("iter()") < order.index("row 0")


# ------------------------------------------------------------ wrong thread
async def wrong_thread_probe(path: str, obs: Observations) -> None:
    """The sqlite3 connection belongs to the worker thread: use from the loop is refused."""
    db = await aiosqlite.connect(path)
    await attempt(obs, "_conn.execute", lambda: db._conn.execute("SELECT 1"))
    await attempt(obs, "_conn.commit", lambda: db._conn.commit())
    await attempt(obs, "_conn.cursor", lambda: db._conn.cursor())
    await attempt(obs, "in_transaction", lambda: db.in_transaction)
    await attempt(obs, "total_changes", lambda: db.total_changes)
    await attempt(obs, "row_factory", lambda: setattr(db, "row_factory", sqlite3.Row))
    await attempt(obs, "text_factory", lambda: db.text_factory)
    await attempt(obs, "still usable", db.execute_fetchall("SELECT 1"))
    await db.close()
    free = await aiosqlite.connect(path, check_same_thread=False)
    await attempt(obs, "check_same_thread=False", lambda: free._conn.execute("SELECT 1"))
    await free.close()


def test_wrong_thread_use_is_rejected_as_on_real_aiosqlite(tmp_path: Path) -> None:
    real = assert_same(wrong_thread_probe, tmp_path)
    assert real[0][:3] == ("_conn.execute", "error", "ProgrammingError")


# ----------------------------------------------------------- connect, await
async def await_twice_probe(path: str, obs: Observations) -> None:
    """A Connection's worker thread starts once: awaiting it again is threading's error."""
    pending = aiosqlite.connect(path)
    db = await pending
    await attempt(obs, "await twice", pending)
    await attempt(obs, "still usable", db.execute_fetchall("SELECT 1"))
    await db.close()
    await attempt(obs, "await after close", pending)
    await attempt(obs, "close twice", db.close())


def test_awaiting_a_connection_twice_fails_as_on_real_aiosqlite(tmp_path: Path) -> None:
    real = assert_same(await_twice_probe, tmp_path)
    assert real[0] == ("await twice", "error", "RuntimeError", "threads can only be started once")


async def locations_probe(path: str, obs: Observations) -> None:
    """connect() takes str, bytes, PathLike or anything with __str__; errors come at await."""

    class Named:
        def __str__(self) -> str:
            return path

    class Unnamed:
        def __str__(self) -> str:
            raise RuntimeError("no name")

    async with aiosqlite.connect(Path(path)) as db:
        await db.execute("CREATE TABLE t(x)")
        await db.execute("INSERT INTO t VALUES ('here')")
        await db.commit()
    for where in (path, path.encode(), Named()):
        async with aiosqlite.connect(where) as db:
            await attempt(obs, type(where).__name__, db.execute_fetchall("SELECT x FROM t"))
    for label, where, kwargs in (
        ("__str__ raises", Unnamed(), {}),
        ("missing directory", os.path.join(path, "no", "such.db"), {}),
        ("unknown keyword", path, {"no_such_keyword": 1}),
    ):
        pending = aiosqlite.connect(where, **kwargs)  # never raises: the connector runs at await
        obs.append((f"connect(): {label}", type(pending).__name__))
        await attempt(obs, f"await: {label}", pending)
        await asyncio.sleep(0.01)  # real aiosqlite: let its worker thread post the stop


def test_connect_accepts_what_aiosqlite_accepts_and_fails_at_await(tmp_path: Path) -> None:
    real = assert_same(locations_probe, tmp_path)
    assert [tuple(row) for row in value_of(real, "Named")] == [("here",)]


async def direct_connection_probe(path: str, obs: Observations) -> None:
    """A directly constructed Connection(connector, 64) is aiosqlite's, on the same database."""
    connection = aiosqlite.Connection(functools.partial(sqlite3.connect, path), 64)
    async with connection as db:
        await db.execute("CREATE TABLE d(x)")
        await db.execute("INSERT INTO d VALUES (1)")
        await db.commit()
        await attempt(obs, "direct", db.execute_fetchall("SELECT x FROM d"))
    async with aiosqlite.connect(path) as other:
        await attempt(obs, "seen by connect()", other.execute_fetchall("SELECT x FROM d"))
    failing = aiosqlite.Connection(lambda: sqlite3.connect(os.path.join(path, "x", "y.db")), 64)
    await attempt(obs, "failing connector", failing)
    obs.append(("running after a failed connect", failing._running))
    await asyncio.sleep(0.01)


def test_a_directly_constructed_connection_is_simulated(tmp_path: Path) -> None:
    assert_same(direct_connection_probe, tmp_path)


async def reach_in_probe(path: str, obs: Observations) -> None:
    """What SQLAlchemy's adapter does: ``_thread.daemon = True``, jobs put on ``_tx`` directly."""
    pending = aiosqlite.connect(path, isolation_level=None)
    worker = getattr(pending, "_thread", pending)  # 0.19-0.21: the Connection is the Thread
    worker.daemon = True
    db = await pending
    future = asyncio.get_running_loop().create_future()
    db._tx.put_nowait((future, functools.partial(db._conn.execute, "SELECT 40 + 2")))
    cursor = await future
    await attempt(obs, "job on _tx", lambda: "done")
    rows = db._tx  # the queue is still aiosqlite's interface: empty once every job ran
    obs.append(("_tx empty", rows.empty()))
    await db.close()
    obs.append(("cursor type", type(cursor).__name__))


def test_libraries_that_reach_into_aiosqlite_work(tmp_path: Path) -> None:
    assert_same(reach_in_probe, tmp_path)


async def worker_thread_probe(path: str, obs: Observations) -> None:
    """The worker thread as code sees it before the connection opens (it is not started yet)."""
    pending = aiosqlite.connect(path)
    thread = getattr(pending, "_thread", pending)  # 0.19-0.21: the Connection is the Thread
    obs.append(("a threading.Thread", isinstance(thread, threading.Thread)))
    obs.append(("its type's name", type(thread).__name__ if thread is not pending else "-"))
    obs.append(("name", re.sub(r"\d+", "N", thread.name)))
    obs.append(("repr", re.sub(r"\d+", "N", repr(thread)).replace("Connection", "Thread")))
    obs.append(("daemon, ident, alive", thread.daemon, thread.ident, thread.is_alive()))
    await attempt(obs, "join before start", lambda: thread.join(0))
    thread.daemon = True
    obs.append(("daemon set", thread.daemon, "daemon" in repr(thread)))
    db = await pending
    await attempt(obs, "a query", db.execute_fetchall("SELECT 1"))
    await db.close()


def test_the_worker_thread_reads_as_a_real_unstarted_thread(tmp_path: Path) -> None:
    assert_same(worker_thread_probe, tmp_path)


def test_a_connection_made_in_a_schedule_and_awaited_after_it_runs_on_a_real_thread(
    tmp_path: Path,
) -> None:
    made: list[Any] = []

    async def body(sim: harness.Sim) -> None:
        made.append(aiosqlite.connect(str(tmp_path / "later.db")))  # never awaited here

    assert not harness.explore(body, schedules=2, shrink=False).failed
    assert getattr(aiosqlite.core, "Thread", threading.Thread) is threading.Thread  # undone

    async def later() -> list[Any]:
        async with made[-1] as db:
            await db.execute("CREATE TABLE t(x)")
            await db.execute("INSERT INTO t VALUES (7)")
            await db.commit()
            return list(await db.execute_fetchall("SELECT x FROM t"))

    assert asyncio.run(later()) == [(7,)]
    check = sqlite3.connect(tmp_path / "later.db")  # a real file: a real thread wrote it
    try:
        assert check.execute("SELECT x FROM t").fetchall() == [(7,)]
    finally:
        check.close()
    seen: list[str] = []

    async def after(sim: harness.Sim) -> None:  # that thread's start left no state behind
        pending = aiosqlite.connect(str(tmp_path / "after.db"))
        thread = getattr(pending, "_thread", pending)
        seen.append(f"{thread.is_alive()} {thread.ident} {'initial' in repr(thread)}")
        await (await pending).close()

    assert not harness.explore(after, schedules=2, shrink=False).failed
    assert seen == ["False None True"] * 2


# ---------------------------------------------------- interrupt, extensions
async def interrupt_probe(path: str, obs: Observations) -> None:
    """interrupt() and extension loading are aiosqlite's own calls on the real sqlite3."""
    db = await aiosqlite.connect(path)
    await attempt(obs, "interrupt() when idle", db.interrupt())
    await attempt(obs, "the next query runs", db.execute_fetchall("SELECT 1"))
    await db.execute("CREATE TABLE t(x)")
    await db.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(200)])
    async with db.execute("SELECT x FROM t") as cursor:  # stepped once: still running
        await attempt(obs, "first row", cursor.fetchone())
        await attempt(obs, "interrupt() with a cursor open", db.interrupt())
        await attempt(obs, "the open cursor", cursor.fetchall())
    await attempt(obs, "a new query", db.execute_fetchall("SELECT count(*) FROM t"))
    await attempt(obs, "enable_load_extension", db.enable_load_extension(True))
    await attempt(obs, "load_extension", db.load_extension("./no-such-extension"))
    await attempt(obs, "disable", db.enable_load_extension(False))
    await db.close()


def test_interrupt_and_extensions_behave_as_on_real_aiosqlite(tmp_path: Path) -> None:
    real = assert_same(interrupt_probe, tmp_path)
    if hasattr(sqlite3.Connection, "enable_load_extension"):  # built with extension loading
        assert ("enable_load_extension", "ok", "NoneType") in real


# --------------------------------------------------------- ResourceWarning
async def dropped_probe(path: str, obs: Observations) -> None:
    """A connection the body drops unclosed is collected and warns, as aiosqlite 0.22 does."""
    db = await aiosqlite.connect(path)
    await db.execute("CREATE TABLE t(x)")
    thread = db._thread
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del db
        gc.collect()
    obs.append(
        (
            "warnings",
            [
                (w.category.__name__, "deleted before being closed" in str(w.message))
                for w in caught
            ],
        )
    )
    while thread.is_alive():  # real aiosqlite: its worker closes the connection and ends
        await asyncio.sleep(0.001)
    async with aiosqlite.connect(path, timeout=0) as other:  # the dropped one holds no lock
        await attempt(obs, "table", other.execute("BEGIN IMMEDIATE"))


@pytest.mark.skipif(not HAS_STOP, reason="aiosqlite < 0.22 does not warn (no __del__)")
def test_an_unclosed_connection_dropped_in_the_body_warns(tmp_path: Path) -> None:
    real = assert_same(dropped_probe, tmp_path)
    assert real[0] == ("warnings", [("ResourceWarning", True)])


# ------------------------------------------------ closed behind its back
async def closed_behind_probe(path: str, obs: Observations) -> None:
    """A sqlite3 connection closed without aiosqlite's close(): by a job, or by the body."""
    db = await aiosqlite.connect(path)
    await db.execute("CREATE TABLE t(x)")
    await db.commit()
    cursor = await db.execute("SELECT * FROM t")  # an open statement on it
    await attempt(obs, "a job closes it", db._execute(lambda: db._conn.close()))
    await attempt(obs, "then a statement", db.execute("SELECT 1"))
    await attempt(obs, "its cursor", cursor.fetchall())
    await attempt(obs, "close()", db.close())
    plain = sqlite3.connect(path)  # the body's own connection holds the write lock
    plain.execute("BEGIN IMMEDIATE")
    async with aiosqlite.connect(path) as writer:
        insert = asyncio.ensure_future(writer.execute("INSERT INTO t VALUES (1)"))
        await asyncio.sleep(0.2)  # the insert waits for the lock (busy timeout 5 s)
        obs.append(("insert waiting", insert.done()))
        plain.close()  # releases the lock
        await attempt(obs, "insert after the lock is released", insert)
        await writer.commit()
        await attempt(obs, "rows", writer.execute_fetchall("SELECT count(*) FROM t"))


def test_a_connection_closed_behind_aiosqlites_back(tmp_path: Path) -> None:
    real = assert_same(closed_behind_probe, tmp_path)
    assert ("insert waiting", False) in real
