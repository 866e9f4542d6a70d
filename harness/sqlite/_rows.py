"""executemany's parameter sets, fed to sqlite3 as it asks for them (see :class:`Rows`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


class Rows:
    """executemany's parameter sets, taken from the user's iterable as SQLite asks for them.

    aiosqlite hands the iterable (a generator, maybe) to the worker, where
    ``sqlite3`` calls ``iter()`` on it (before its implicit ``BEGIN``) and
    consumes it row by row while the statement runs — after the jobs queued
    before it. So does harness: nothing touches the iterable at submit time;
    sqlite3 receives an iterable whose ``__iter__`` starts the user's. Rows
    already taken are kept, so a retry after a lock wait resumes where SQLite
    stopped.
    """

    __slots__ = ("consumed", "iterable", "source", "started", "taken")

    def __init__(self, iterable: Any) -> None:
        self.iterable: Any = iterable  # iter() is called when sqlite3 first asks
        self.started = False
        self.source: Iterator[Any] | None = None
        self.taken: list[Any] = []
        self.consumed = 0  # parameter sets SQLite has taken so far (across retries)

    def feed(self) -> Feed:
        return Feed(self)

    def start(self) -> Iterator[Any]:
        if not self.started:
            self.started = True
            iterable, self.iterable = self.iterable, None
            self.source = iter(iterable)  # a TypeError here reaches sqlite3, as it would
        return self._rows()

    def _rows(self) -> Iterator[Any]:
        while True:
            if self.consumed < len(self.taken):
                row = self.taken[self.consumed]
            elif self.source is not None:
                try:
                    row = next(self.source)
                except StopIteration:
                    self.source = None
                    return
                self.taken.append(row)
            else:
                return
            self.consumed += 1
            yield row


class Feed:
    """What sqlite3's executemany iterates: not an iterator, so it calls ``iter()`` itself."""

    __slots__ = ("_rows",)

    def __init__(self, rows: Rows) -> None:
        self._rows = rows

    def __iter__(self) -> Iterator[Any]:
        return self._rows.start()
