"""Connections and transactions of the reference store.

One *writer* connection does every write, inside ``BEGIN IMMEDIATE`` (the write
lock is taken up front, so a transaction never upgrades from read to write —
the upgrade is the one conflict SQLite reports without consulting the busy
handler). An ``asyncio.Lock`` serialises writers *only around their SQL*: no
file I/O, no waiting on other tasks happens while it is held. A separate
*reader* connection serves queries. ``busy_timeout`` is the first pragma each
connection runs, so nothing can hit a lock before it is in place.

A write transaction is shielded from cancellation: once started it runs to
COMMIT (or ROLLBACK) even if its caller times out, because aiosqlite would run
the queued statements anyway and a half-abandoned transaction would leave the
writer connection stuck inside ``BEGIN``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import aiosqlite

from ._schema import SCHEMA

T = TypeVar("T")
Connect = Callable[..., Any]  # aiosqlite.connect, or sim.connect inside a simulation


class Database:
    """The writer/reader pair over one SQLite file."""

    def __init__(self, connect: Connect, path: str, *, busy_timeout_ms: int = 5000) -> None:
        self._connect = connect
        self.path = path
        self.busy_timeout_ms = busy_timeout_ms
        self._lock = asyncio.Lock()
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None

    async def _open_one(self) -> aiosqlite.Connection:
        conn: aiosqlite.Connection = await self._connect(self.path, isolation_level=None)
        await conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
        return conn

    async def open(self) -> None:
        self._writer = await self._open_one()
        await self._writer.executescript(SCHEMA)
        self._reader = await self._open_one()

    async def close(self) -> None:
        for conn in (self._reader, self._writer):
            if conn is not None:
                await conn.close()
        self._reader = self._writer = None

    @property
    def writer(self) -> aiosqlite.Connection:
        if self._writer is None:
            raise RuntimeError("the store is not open")
        return self._writer

    @property
    def reader(self) -> aiosqlite.Connection:
        if self._reader is None:
            raise RuntimeError("the store is not open")
        return self._reader

    def in_write_transaction(self) -> bool:
        return self._writer is not None and self._writer.in_transaction

    async def write(self, work: Callable[[aiosqlite.Connection], Awaitable[T]]) -> T:
        """Run ``work(writer)`` in one ``BEGIN IMMEDIATE`` transaction, under the write lock."""
        return await asyncio.shield(self._write(work))

    async def _write(self, work: Callable[[aiosqlite.Connection], Awaitable[T]]) -> T:
        async with self._lock:
            writer = self.writer
            await writer.execute("BEGIN IMMEDIATE")
            try:
                result = await work(writer)
                await writer.execute("COMMIT")
            except BaseException:
                if writer.in_transaction:
                    await writer.execute("ROLLBACK")
                raise
            return result

    async def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        rows = await self.reader.execute_fetchall(sql, params)
        return [tuple(r) for r in rows]
