"""Differential test: the fake aiosqlite observes exactly what real aiosqlite observes."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiosqlite
import pytest

import harness

Observations = list[tuple[str, Any]]


async def exercise(connect: Callable[..., Any], path: str) -> Observations:
    """Use the whole aiosqlite API and record every observable result."""
    obs: Observations = []

    def rec(label: str, value: Any) -> None:
        obs.append((label, value))

    async def err(label: str, awaitable: Any) -> None:
        try:
            await awaitable
        except (sqlite3.Error, ValueError) as exc:
            rec(
                label,
                (
                    type(exc).__name__,
                    str(exc),
                    getattr(exc, "sqlite_errorname", None),
                    getattr(exc, "sqlite_errorcode", None),
                ),
            )
        else:
            rec(label, "no error")

    db = await connect(path)
    rec("isinstance", isinstance(db, aiosqlite.Connection))
    rec("isolation_level", db.isolation_level)
    rec("in_transaction 0", db.in_transaction)
    await db.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT UNIQUE, score REAL)")
    cursor = await db.execute("INSERT INTO t(name, score) VALUES (?, ?)", ("a", 1.5))
    rec("rowcount", cursor.rowcount)
    rec("lastrowid", cursor.lastrowid)
    rec("in_transaction 1", db.in_transaction)
    await cursor.close()
    await db.commit()
    rec("in_transaction 2", db.in_transaction)
    rec("total_changes", db.total_changes)
    async with db.executemany(
        "INSERT INTO t(name, score) VALUES (?, ?)", [("b", 2.0), ("c", 3.0)]
    ) as cursor:
        rec("executemany rowcount", cursor.rowcount)
    row = await db.execute_insert("INSERT INTO t(name, score) VALUES (?, ?)", ("d", 4.0))
    rec("execute_insert", tuple(row) if row else row)
    rows = await db.execute_fetchall("SELECT * FROM t ORDER BY id")
    rec("execute_fetchall", [tuple(r) for r in rows])
    async with db.execute_fetchall("SELECT name FROM t WHERE score > ?", (2.5,)) as rows:
        rec("execute_fetchall as context", [tuple(r) for r in rows])
    await db.commit()

    db.row_factory = aiosqlite.Row
    rec("row_factory", db.row_factory is sqlite3.Row)
    async with db.execute("SELECT id, name AS label FROM t WHERE id > ?", (1,)) as cursor:
        rec("description", cursor.description)
        first = await cursor.fetchone()
        rec("Row keys", first.keys())
        rec("Row access", (first["label"], first[0], first["ID"], tuple(first)))
        rec("fetchmany", [tuple(r) for r in await cursor.fetchmany(1)])
        rec("arraysize", cursor.arraysize)
        cursor.arraysize = 5
        rec("fetchmany default", [tuple(r) for r in await cursor.fetchmany()])
        rec("fetchall rest", [tuple(r) for r in await cursor.fetchall()])
    db.row_factory = None

    cursor = await db.cursor()
    await cursor.execute("SELECT count(*) FROM t")
    rec("cursor.execute", await cursor.fetchone())
    await cursor.executemany("UPDATE t SET score = score + ? WHERE id = ?", [(1, 1), (1, 2)])
    rec("cursor.executemany rowcount", cursor.rowcount)
    await cursor.executescript(
        "CREATE TABLE u(x); INSERT INTO u VALUES (1); INSERT INTO u VALUES (2);"
    )
    rec("cursor.row_factory", cursor.row_factory)
    await cursor.close()
    names = []
    async for r in await db.execute("SELECT name FROM t ORDER BY id"):
        names.append(r[0])
    rec("async for", names)
    async with db.execute("SELECT x FROM u") as cursor:
        rec("async with execute", [r async for r in cursor])

    await err("integrity", db.execute("INSERT INTO t(name) VALUES ('a')"))
    rec("in_transaction after failed insert", db.in_transaction)
    await db.rollback()
    await err("syntax", db.execute("SELEC 1"))
    await err("no such table", db.execute("SELECT * FROM nope"))
    await err("bad parameter count", db.execute("SELECT ?", (1, 2)))
    await db.execute("BEGIN")
    await err("nested BEGIN", db.execute("BEGIN"))
    await db.execute("SAVEPOINT sp1")
    await db.execute("INSERT INTO u VALUES (3)")
    await db.execute("ROLLBACK TO sp1")
    rec("in_transaction after ROLLBACK TO", db.in_transaction)
    await err("RELEASE nosuch", db.execute("RELEASE nosuch"))
    await db.execute("RELEASE sp1")
    await db.commit()
    await db.execute("SAVEPOINT outer_sp")
    rec("SAVEPOINT outside a transaction", db.in_transaction)
    await db.execute("RELEASE outer_sp")
    rec("RELEASE ends it", db.in_transaction)
    await err("COMMIT without transaction", db.execute("COMMIT"))

    await db.executescript("CREATE TABLE v(y); INSERT INTO v VALUES ('s');")
    await db.create_function("twice", 1, lambda x: x * 2, deterministic=True)
    rec("create_function", await (await db.execute("SELECT twice(21)")).fetchone())
    traced: list[str] = []
    await db.set_trace_callback(traced.append)
    await db.execute("SELECT 42")
    await db.execute("INSERT INTO v VALUES ('t')")
    await db.commit()
    await db.set_trace_callback(None)
    rec("trace callback", traced)
    rec("iterdump", [line async for line in db.iterdump()])
    target = await connect(":memory:")
    await db.backup(target)
    rec("backup", await target.execute_fetchall("SELECT count(*) FROM t"))
    await target.close()
    db.text_factory = bytes
    rec("text_factory", await db.execute_fetchall("SELECT name FROM t ORDER BY id LIMIT 1"))
    db.text_factory = str
    try:  # the sqlite3 connection belongs to aiosqlite's worker thread
        db.isolation_level = None
    except sqlite3.ProgrammingError as exc:
        rec("isolation_level setter", str(exc).split(". The object")[0])
    rec("total_changes end", db.total_changes)
    await db.close()
    free = await connect(path, check_same_thread=False)
    free.isolation_level = None
    rec("isolation_level None", free.isolation_level)
    await free.execute("INSERT INTO v VALUES ('autocommit')")
    rec("autocommit in_transaction", free.in_transaction)
    free.isolation_level = "IMMEDIATE"
    await free.execute("INSERT INTO v VALUES ('immediate')")
    rec("IMMEDIATE in_transaction", free.in_transaction)
    await free.commit()
    await free.close()
    await err("execute after close", db.execute("SELECT 1"))
    await err("close twice", db.close())  # a no-op since aiosqlite 0.20; 0.19 raises

    async with connect(path, isolation_level=None) as second:
        rec("async with connect", await second.execute_fetchall("SELECT count(*) FROM v"))
        rec("kwargs reach sqlite3.connect", second.isolation_level)
    unopenable = connect(path + "/not-a-dir/x.db")
    await err("unopenable file", unopenable)
    worker = getattr(unopenable, "_thread", None)
    if worker is not None:  # real aiosqlite: let its worker post the stop before the loop ends
        while worker.is_alive():
            await asyncio.sleep(0.001)
    return obs


def test_fake_and_real_aiosqlite_observe_the_same(tmp_path: Path) -> None:
    real = asyncio.run(exercise(aiosqlite.connect, str(tmp_path / "diff.db")))

    assert len(real) >= 50

    async def body(sim: harness.Sim) -> None:
        simulated = await exercise(sim.connect, "diff.db")
        assert [label for label, _ in simulated] == [label for label, _ in real]
        for (label, got), (_, expected) in zip(simulated, real, strict=True):
            assert got == expected, f"{label}: simulated {got!r} != real {expected!r}"

    result = harness.explore(body, schedules=5, strategy="random")
    assert not result.failed, result.failures and result.failures[0].error


def test_unmodified_code_using_the_aiosqlite_module_is_routed_to_the_fake() -> None:
    async def app_code() -> list[Any]:
        async with aiosqlite.connect("routed.db") as db:
            await db.execute("CREATE TABLE IF NOT EXISTS r(x)")
            await db.execute("INSERT INTO r VALUES (1)")
            await db.commit()
            return await db.execute_fetchall("SELECT * FROM r")

    async def body(sim: harness.Sim) -> None:
        rows = await app_code()
        assert [tuple(r) for r in rows] == [(1,)]  # a fresh private database per schedule
        assert sim.aiosqlite is aiosqlite  # aiosqlite is aiosqlite: its worker is simulated

    assert not harness.explore(body, schedules=20, strategy="random").failed


def test_sim_aiosqlite_module_reexports_the_real_sqlite3_classes() -> None:
    async def body(sim: harness.Sim) -> None:
        mod = sim.aiosqlite
        assert mod.Row is sqlite3.Row and mod.OperationalError is sqlite3.OperationalError
        assert mod.IntegrityError is sqlite3.IntegrityError and mod.Error is sqlite3.Error
        assert mod.Cursor is aiosqlite.Cursor and issubclass(mod.Connection, aiosqlite.Connection)
        async with mod.connect("m.db") as db:
            assert isinstance(db, mod.Connection)

    assert not harness.explore(body, schedules=1).failed


async def _extension_and_interrupt_outcomes(connect: Any, path: str) -> list[str]:
    """What interrupt() and extension loading do: aiosqlite's own calls, on the real sqlite3."""
    outcomes = []
    async with connect(path) as db:
        for call in (
            lambda: db.interrupt(),
            lambda: db.enable_load_extension(True),
            lambda: db.load_extension("./no-such-extension"),
            lambda: db.execute_fetchall("SELECT 1"),
        ):
            try:
                await call()
                outcomes.append("ok")
            except Exception as exc:
                outcomes.append(type(exc).__name__)
    return outcomes


def test_interrupt_and_extension_loading_behave_as_on_real_aiosqlite(tmp_path: Any) -> None:
    real = asyncio.run(_extension_and_interrupt_outcomes(aiosqlite.connect, str(tmp_path / "x.db")))
    seen: list[list[str]] = []

    async def body(sim: harness.Sim) -> None:
        seen.append(await _extension_and_interrupt_outcomes(sim.connect, "x.db"))

    assert not harness.explore(body, schedules=3, strategy="random").failed
    assert seen and all(s == real for s in seen), (seen, real)


def test_a_cancelled_await_does_not_remove_the_queued_statement() -> None:
    async def body(sim: harness.Sim) -> None:
        db = await sim.connect("c.db", isolation_level=None)
        await db.execute("CREATE TABLE t(x)")
        insert = asyncio.create_task(db.execute("INSERT INTO t VALUES (1)"))
        await asyncio.sleep(0)  # the statement is submitted
        insert.cancel()
        with pytest.raises(asyncio.CancelledError):
            await insert
        rows = await db.execute_fetchall("SELECT count(*) FROM t")
        await db.close()
        assert rows[0][0] == 1  # aiosqlite still ran it

    result = harness.explore(body, schedules=2_000, strategy=harness.Exhaustive(2))
    assert not result.failed and result.exhausted
