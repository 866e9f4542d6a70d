"""Databases as SQLite sees them (``harness.sqlite._database``, DESIGN §3a).

Every probe runs twice — on real aiosqlite and the stock loop, and as a
harness body — from a working directory of its own, and must observe the
same: which names are one database, what ``file:`` URIs and their query do,
which memory databases are shared. Inside the simulation the user's files
are never written: a file that exists when a schedule opens it is copied in
as that schedule's starting state.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiosqlite
import pytest

import harness

Observations = list[tuple[Any, ...]]
Probe = Callable[[Observations], Awaitable[None]]


async def attempt(obs: Observations, label: str, awaitable: Awaitable[Any]) -> Any:
    try:
        value = await awaitable
    except sqlite3.Error as exc:
        obs.append((label, type(exc).__name__, str(exc)))
        return None
    obs.append((label, "ok", [tuple(row) for row in value] if isinstance(value, list) else None))
    return value


async def rows(database: str, sql: str, **kwargs: Any) -> list[Any]:
    async with aiosqlite.connect(database, **kwargs) as db:
        return list(await db.execute_fetchall(sql))


async def write(database: str, *statements: str, **kwargs: Any) -> None:
    async with aiosqlite.connect(database, **kwargs) as db:
        for sql in statements:
            await db.execute(sql)
        await db.commit()


def observe(
    probe: Probe, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Observations, list[Observations]]:
    """The probe's observations on real aiosqlite, and in each of a few harness schedules."""
    real_dir, sim_dir = folder / "real", folder / "sim"
    real_dir.mkdir()
    sim_dir.mkdir()
    monkeypatch.chdir(real_dir)
    real: Observations = []
    asyncio.run(probe(real))
    monkeypatch.chdir(sim_dir)
    simulated: list[Observations] = []

    async def body(sim: harness.Sim) -> None:
        obs: Observations = []
        simulated.append(obs)
        await probe(obs)

    result = harness.explore(body, schedules=3, strategy="random")
    assert not result.failed, f"{result.failures[0].error!r}\n{result.failures[0].timeline}"
    return real, simulated


def assert_same(probe: Probe, folder: Path, monkeypatch: pytest.MonkeyPatch) -> Observations:
    real, simulated = observe(probe, folder, monkeypatch)
    for obs in simulated:
        assert obs == real
    return real


# ------------------------------------------------------------ file names
async def names_probe(obs: Observations) -> None:
    os.symlink("app.db", "link.db")  # a link to a file that does not exist yet
    await write("app.db", "CREATE TABLE t(x)", "INSERT INTO t VALUES ('via app.db')")
    for name in ("./app.db", os.path.abspath("app.db"), "link.db", "sub/../app.db"):
        await attempt(obs, name.replace(os.getcwd(), "<cwd>"), rows(name, "SELECT x FROM t"))
    await write("x y.db", "CREATE TABLE t(x)", "INSERT INTO t VALUES ('space')")
    await attempt(obs, "x_y.db is another database", rows("x_y.db", "SELECT x FROM t"))
    await attempt(obs, "x y.db", rows("x y.db", "SELECT x FROM t"))
    os.remove("link.db")


def test_one_database_per_real_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "real" / "sub").mkdir(parents=True)
    (tmp_path / "sim" / "sub").mkdir(parents=True)
    real_dir, sim_dir = tmp_path / "real", tmp_path / "sim"
    monkeypatch.chdir(real_dir)
    real: Observations = []
    asyncio.run(names_probe(real))
    assert real[0] == ("./app.db", "ok", [("via app.db",)])
    assert real[4][:2] == ("x_y.db is another database", "OperationalError")
    monkeypatch.chdir(sim_dir)
    seen: list[Observations] = []

    async def body(sim: harness.Sim) -> None:
        seen.append([])
        await names_probe(seen[-1])

    assert not harness.explore(body, schedules=3, strategy="random").failed
    assert seen and all(obs == real for obs in seen)
    assert sorted(os.listdir(sim_dir)) == ["sub"]  # no database file reached the user's folder


# ------------------------------------------------------------- file: URIs
async def uri_probe(obs: Observations) -> None:
    await write("file:app.db", "CREATE TABLE t(x)", "INSERT INTO t VALUES (1)", uri=True)
    await attempt(obs, "plain name", rows("app.db", "SELECT x FROM t"))
    absolute = "file://" + os.path.abspath("app.db")
    await attempt(obs, "file:// absolute", rows(absolute, "SELECT x FROM t", uri=True))
    await attempt(obs, "mode=ro reads", rows("file:app.db?mode=ro", "SELECT x FROM t", uri=True))
    await attempt(
        obs,
        "mode=ro refuses writes",
        write("file:app.db?mode=ro", "INSERT INTO t VALUES (2)", uri=True),
    )
    await attempt(
        obs, "mode=ro, missing file", rows("file:missing.db?mode=ro", "SELECT 1", uri=True)
    )
    await attempt(
        obs, "mode=rw, missing file", rows("file:missing.db?mode=rw", "SELECT 1", uri=True)
    )
    await attempt(obs, "mode=rwc creates", rows("file:created.db?mode=rwc", "SELECT 1", uri=True))
    await attempt(
        obs, "created is a database", rows("created.db", "SELECT count(*) FROM sqlite_master")
    )
    await attempt(obs, "missing directory", rows("no/such/dir.db", "SELECT 1"))
    await attempt(
        obs,
        "uri=False: a file named file:",
        rows("file:app.db", "SELECT count(*) FROM sqlite_master"),
    )
    await attempt(obs, "percent-encoded", rows("file:app%2Edb", "SELECT x FROM t", uri=True))


def test_file_uris_and_their_query_behave_as_in_sqlite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = assert_same(uri_probe, tmp_path, monkeypatch)
    assert real[3] == (
        "mode=ro refuses writes",
        "OperationalError",
        "attempt to write a readonly database",
    )
    assert real[4] == ("mode=ro, missing file", "OperationalError", "unable to open database file")


# -------------------------------------------------------- memory databases
async def memory_probe(obs: Observations) -> None:
    first = await aiosqlite.connect(":memory:")
    await first.execute("CREATE TABLE t(x)")
    await attempt(obs, ":memory: is private", rows(":memory:", "SELECT * FROM t"))
    await attempt(obs, "'' is private", rows("", "SELECT * FROM t"))
    shared = "file:mem1?mode=memory&cache=shared"
    keeper = await aiosqlite.connect(shared, uri=True)  # keeps the shared database alive
    await keeper.execute("CREATE TABLE t(x)")
    await keeper.execute("INSERT INTO t VALUES ('shared')")
    await keeper.commit()
    await attempt(obs, "shared-cache name", rows(shared, "SELECT x FROM t", uri=True))
    await attempt(
        obs, "another name", rows("file:mem2?mode=memory&cache=shared", "SELECT x FROM t", uri=True)
    )
    await attempt(obs, "not a file", rows("mem1", "SELECT count(*) FROM sqlite_master"))
    await keeper.close()
    await attempt(obs, "gone with its last connection", rows(shared, "SELECT x FROM t", uri=True))
    await first.close()


def test_memory_databases_are_shared_as_sqlite_shares_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = assert_same(memory_probe, tmp_path, monkeypatch)
    assert real[2] == ("shared-cache name", "ok", [("shared",)])


def test_a_shared_memory_database_is_never_shared_across_schedules() -> None:
    """Schedules are separate processes: neither the host's nor an earlier schedule's copy."""
    name = "file:cache?mode=memory&cache=shared"
    host = sqlite3.connect(name, uri=True)  # the host process holds one open all along
    host.execute("CREATE TABLE t(x)")
    host.execute("INSERT INTO t VALUES ('host')")
    host.commit()

    async def body(sim: harness.Sim) -> None:
        async with (
            aiosqlite.connect(name, uri=True) as db,
            aiosqlite.connect(name, uri=True) as two,
        ):
            await db.execute("CREATE TABLE t(x)")  # fails if the host's or an earlier one's
            await db.execute("INSERT INTO t VALUES ('schedule')")
            await db.commit()
            rows = await two.execute_fetchall("SELECT x FROM t")  # shared within the schedule
        assert [tuple(r) for r in rows] == [("schedule",)]

    try:
        result = harness.explore(body, schedules=10, strategy="random")
        assert not result.failed, result.failures[0].error
        assert host.execute("SELECT x FROM t").fetchall() == [("host",)]
    finally:
        host.close()


# ------------------------------------------------------ an existing file
def _host_database(path: Path, journal_mode: str = "delete") -> tuple[bytes, int]:
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA journal_mode={journal_mode}")
        db.execute("CREATE TABLE t(x)")
        db.execute("INSERT INTO t VALUES ('from the fixture')")
    db.close()
    return path.read_bytes(), path.stat().st_mtime_ns


@pytest.mark.parametrize("journal_mode", ["delete", "wal"])
def test_an_existing_file_is_each_schedules_starting_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, journal_mode: str
) -> None:
    monkeypatch.chdir(tmp_path)
    content, mtime = _host_database(tmp_path / "app.db", journal_mode)
    before = sorted(os.listdir(tmp_path))

    async def body(sim: harness.Sim) -> None:
        async with aiosqlite.connect("app.db") as db:
            rows = await db.execute_fetchall("SELECT x FROM t")
            assert [tuple(r) for r in rows] == [("from the fixture",)]  # not a previous schedule's
            mode = await db.execute_fetchall("PRAGMA journal_mode")
            assert next(iter(mode))[0] == journal_mode
            await db.execute("INSERT INTO t VALUES ('from a schedule')")
            await db.execute("CREATE TABLE IF NOT EXISTS u(y)")
            await db.commit()
        plain = sqlite3.connect("app.db")  # a sync migration sees the same copy
        assert plain.execute("SELECT count(*) FROM t").fetchone()[0] == 2
        plain.close()

    result = harness.explore(body, schedules=10, strategy="random")
    assert not result.failed, result.failures[0].error
    assert (tmp_path / "app.db").read_bytes() == content  # the user's file is never written
    assert (tmp_path / "app.db").stat().st_mtime_ns == mtime
    assert sorted(os.listdir(tmp_path)) == before


def test_a_file_created_between_schedules_is_the_next_ones_starting_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    seen: list[int] = []

    async def body(sim: harness.Sim) -> None:
        async with aiosqlite.connect("late.db") as db:
            rows = await db.execute_fetchall("SELECT count(*) FROM sqlite_master")
        seen.append(next(iter(rows))[0])

    assert not harness.explore(body, schedules=2).failed
    _host_database(tmp_path / "late.db")
    assert not harness.explore(body, schedules=2).failed
    assert seen == [0, 0, 1, 1]


# --------------------------------------------- plain sqlite3 in the body
def test_plain_sqlite3_and_a_sync_engine_reach_the_same_private_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sync migration and an Alembic-style ``create_all`` on a sync engine, then aiosqlite."""
    from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine

    monkeypatch.chdir(tmp_path)
    metadata = MetaData()
    Table("users", metadata, Column("id", Integer, primary_key=True), Column("name", String))

    async def body(sim: harness.Sim) -> None:
        migration = sqlite3.connect("app.db")
        migration.executescript("CREATE TABLE settings(k TEXT PRIMARY KEY, v TEXT);")
        migration.execute("INSERT INTO settings VALUES ('theme', 'dark')")
        migration.commit()
        migration.close()
        engine = create_engine("sqlite:///app.db")
        metadata.create_all(engine)  # what an Alembic upgrade in a sync fixture does
        engine.dispose()
        async with aiosqlite.connect("./app.db") as db:
            tables = await db.execute_fetchall(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            )
            settings = await db.execute_fetchall("SELECT v FROM settings")
        assert [t[0] for t in tables] == ["settings", "users"]
        assert [tuple(r) for r in settings] == [("dark",)]

    result = harness.explore(body, schedules=5, strategy="random")
    assert not result.failed, result.failures[0].error
    assert os.listdir(tmp_path) == []
