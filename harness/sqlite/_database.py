"""The private SQLite databases of one schedule.

Every fake connection opened with the same name shares one real database
file, private to the schedule: ``<workdir>/<schedule prefix><name>``. If the
name's directory does not exist on the host, the real open targets a missing
directory too, so SQLite reports ``unable to open database file`` itself. The
work directory is on tmpfs (``/dev/shm``) where available — a real file
system with real POSIX locks, so SQLite's locking is its own, at RAM speed.
Files survive a simulated crash (recovery reopens them) and are deleted when
the schedule ends.

``:memory:`` and ``""`` stay private to their connection, as in SQLite; a
shared-cache in-memory URI is renamed per schedule so schedules never share it.
"""

from __future__ import annotations

import os
import re
import tempfile
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

if TYPE_CHECKING:
    from ._connection import SqlOp

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def default_workroot() -> str:
    """tmpfs if writable (``HARNESS_TMPDIR`` overrides), else the system temp dir."""
    root = os.environ.get("HARNESS_TMPDIR")
    if root:
        return root
    shm = "/dev/shm"
    if os.path.isdir(shm) and os.access(shm, os.W_OK):
        return shm
    return tempfile.gettempdir()


class Database:
    """One real database file (or shared in-memory database) of a schedule."""

    __slots__ = ("name", "path", "sidecars", "waiters", "wal")

    def __init__(self, name: str, path: str | None) -> None:
        self.name = name
        self.path = path
        self.wal = False  # journal_mode=WAL is persistent in the file
        self.sidecars = False  # a -journal, -wal or -shm file may exist next to it
        self.waiters: list[SqlOp] = []


class Databases:
    """Name -> :class:`Database` for one schedule."""

    def __init__(self, workdir: str, prefix: str) -> None:
        self.workdir = workdir
        self.prefix = prefix
        self.by_name: dict[str, Database] = {}

    def resolve(self, database: str, uri: bool) -> tuple[Database | None, str]:
        """Map a user's database argument to (shared Database or None, real target)."""
        if database in (":memory:", ""):
            return None, database
        query = ""
        key = database
        if uri and database.startswith("file:"):
            path, _, query = database[5:].partition("?")
            options = parse_qs(query)
            if options.get("mode") == ["memory"] or path == ":memory:":
                db = self._get(f"memory:{path}", None)
                safe = _UNSAFE.sub("_", f"{os.path.basename(self.workdir)}-{self.prefix}{path}")
                return db, f"file:{safe}?{query}"
            key = path
        name = os.path.basename(key.rstrip("/")) or key
        safe = _UNSAFE.sub("_", key).strip("_")[-100:] or "db"
        real = os.path.join(self.workdir, self.prefix + safe)
        parent = os.path.dirname(key)
        if parent and not os.path.isdir(parent):
            # the user's directory does not exist: let SQLite itself fail to open it
            real = os.path.join(self.workdir, "no-such-directory", self.prefix + safe)
        db = self._get(name if key == name else key, real)
        if uri and database.startswith("file:"):
            return db, f"file:{real}" + (f"?{query}" if query else "")
        return db, real

    def _get(self, name: str, path: str | None) -> Database:
        db = self.by_name.get(name)
        if db is None:
            db = self.by_name[name] = Database(name, path)
        return db

    def remove_files(self) -> None:
        for db in self.by_name.values():
            if db.path is None:
                continue
            for suffix in ("", "-wal", "-shm", "-journal") if db.sidecars else ("",):
                try:
                    os.unlink(db.path + suffix)
                except FileNotFoundError:
                    pass
        self.by_name.clear()
