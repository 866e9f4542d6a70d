"""The private SQLite databases of one schedule: databases as SQLite sees them.

Every connection a schedule opens to one *database* — ``aiosqlite.connect``,
``sim.connect`` or a plain ``sqlite3.connect`` in the body — shares one real
database file private to the schedule, so the user's own file is never
written. Which names are one database follows SQLite:

* a file path is one database per real file: the path is made absolute
  against the working directory when it is opened, and symbolic links are
  resolved (``'app.db'``, ``'./app.db'`` and its absolute path are one
  database; ``'x y.db'`` and ``'x_y.db'`` are two);
* a ``file:`` URI (``uri=True``, or any ``file:`` name where SQLite was
  built with ``SQLITE_USE_URI``, as Debian's is) names its path the same way
  and keeps its query (``mode=ro``, ``immutable=1``, …) for SQLite to act on;
* ``:memory:``, ``""`` and ``file::memory:`` without ``cache=shared`` are
  private to their connection, as in SQLite; a shared-cache memory database
  (``file:name?mode=memory&cache=shared``) is shared by name within the
  schedule and renamed so that schedules never share it.

A database file that exists when a schedule first opens it is that
schedule's starting state: the file (and its ``-wal`` / ``-journal``, if
any) is copied in. A missing directory stays missing, and ``mode=ro`` /
``mode=rw`` of a missing file stays missing, so SQLite itself reports
``unable to open database file``.

The work directory is on tmpfs (``/dev/shm``) where available — a real file
system, so SQLite's locking is its own, at RAM speed. A private file is opened
through SQLite's own ``unix-excl`` VFS (where the build has it and the body
named no VFS): the ``unix`` VFS with one difference, that it takes a single
POSIX lock for the process instead of one system call per lock change. Locks
between connections of one process are decided by SQLite's in-process lock
table either way — the same code, the same answers (``tests/test_vfs.py``
compares both on drawn statement sequences, rollback journal and WAL) — and
no other process ever opens a private file. What differs is invisible to the
body: a WAL database keeps its index in memory instead of a ``-shm`` file
beside the private file; and a schedule of the smallest body spends about a
fifth less time in SQLite.
Files survive a simulated crash (recovery reopens them) and are deleted when
the schedule ends.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import tempfile
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, quote, unquote

from ._capi import has_vfs

if TYPE_CHECKING:
    from ._job import JobOp

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_SIDECARS = ("-wal", "-journal")
_SNAPSHOT_LIMIT = 64 << 20  # bytes of host files kept in memory for per-schedule copies


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
    """One real database of a schedule (a private file, or a shared memory database)."""

    __slots__ = ("key", "name", "path", "sidecars", "waiters", "wal")

    def __init__(self, key: str, name: str, path: str | None) -> None:
        self.key = key  # what identifies it: the host's real path, or memory:<name>
        self.name = name  # as timelines show it
        self.path = path  # the private file (None for a shared memory database)
        self.wal = False  # journal_mode=WAL is persistent in the file
        self.sidecars = False  # a -journal, -wal or -shm file may exist next to it
        self.waiters: list[JobOp] = []


class Target:
    """How one ``sqlite3.connect`` call reaches its database."""

    __slots__ = ("database", "db", "uri")

    def __init__(self, db: Database | None, database: str, uri: bool) -> None:
        self.db = db  # None: private to the connection (:memory:, "")
        self.database = database  # what to pass to the real sqlite3.connect
        self.uri = uri


def _build_uses_uri() -> bool:
    """Whether this SQLite reads ``file:`` names as URIs even without ``uri=True``."""
    global _USES_URI
    if _USES_URI is None:
        import _sqlite3

        probe = _sqlite3.connect(":memory:")  # never routed: harness's own look at the build
        try:
            options = {row[0] for row in probe.execute("PRAGMA compile_options")}
        finally:
            probe.close()
        _USES_URI = "USE_URI" in options
    return _USES_URI


_USES_URI: bool | None = None


@functools.cache
def _in_process_vfs() -> str | None:
    """``unix-excl`` where this SQLite has it (see the module docstring), else None."""
    return "unix-excl" if has_vfs("unix-excl") else None


def _private_uri(path: str, query: str) -> str:
    """The URI that opens a private file with the user's query (and harness's VFS)."""
    vfs = _in_process_vfs()
    if vfs is not None:
        if not query:
            query = f"vfs={vfs}"
        elif not any(name == "vfs" for name, _ in parse_qsl(query, keep_blank_values=True)):
            query = f"{query}&vfs={vfs}"
    if not _URI_SAFE.match(path):
        path = quote(path, safe="/")
    return f"file:{path}?{query}" if query else f"file:{path}"


_URI_SAFE = re.compile(r"[A-Za-z0-9._/-]*\Z")  # a path that reads the same in a file: URI


def host_key(path: str) -> str:
    """The real file a path names, as SQLite opens it now (absolute, links resolved)."""
    return os.path.realpath(os.path.abspath(path))


class _Snapshots:
    """Contents of host database files, read once and copied into every schedule."""

    def __init__(self) -> None:
        self._files: dict[str, tuple[tuple[int, int], bytes]] = {}
        self._size = 0

    def read(self, path: str) -> bytes | None:
        try:
            stat = os.stat(path)
        except OSError:
            return None
        stamp = (stat.st_size, stat.st_mtime_ns)
        kept = self._files.get(path)
        if kept is not None and kept[0] == stamp:
            return kept[1]
        with open(path, "rb") as f:
            data = f.read()
        if kept is not None:
            self._size -= len(kept[1])
        if self._size + len(data) <= _SNAPSHOT_LIMIT:
            self._files[path] = (stamp, data)
            self._size += len(data)
        return data


_snapshots = _Snapshots()

_HostFile = tuple[str, bool, bool, "bytes | None", tuple[tuple[str, bytes], ...]]
_hosts: dict[tuple[str, str, str, bool], _HostFile] = {}
"""(workdir, cwd, path, create) -> (key, directory exists, file exists, contents, sidecars).

What a path names on the host is looked up once per exploration (its work
directory): the host's files do not change while an exploration runs — harness
never writes them — and each lookup is several system calls.
"""


def forget_exploration(workdir: str) -> None:
    """An exploration ended: what it learned about host files may be stale now."""
    for key in [k for k in _hosts if k[0] == workdir]:
        del _hosts[key]


def _host_file(workdir: str, path: str, create: bool) -> _HostFile:
    lookup = (workdir, os.getcwd(), path, create)
    found = _hosts.get(lookup)
    if found is None:
        key = host_key(path)
        exists = os.path.isfile(key)
        data = _snapshots.read(key) if exists else None
        sidecars = tuple(
            (suffix, extra)
            for suffix in _SIDECARS
            if (extra := _snapshots.read(key + suffix)) is not None
        )
        found = _hosts[lookup] = (key, os.path.isdir(os.path.dirname(key)), exists, data, sidecars)
    return found


@functools.lru_cache(maxsize=1024)
def _private_name(key: str) -> str:
    """The private file's name for a host file: readable stem, and a digest of the whole key."""
    stem = _UNSAFE.sub("_", os.path.basename(key)).strip("_")[-60:] or "db"
    digest = hashlib.blake2b(key.encode("utf-8", "surrogateescape"), digest_size=4)
    return f"{stem}-{digest.hexdigest()}"


class Databases:
    """The databases of one schedule, by key (see the module docstring)."""

    def __init__(self, workdir: str, prefix: str) -> None:
        self.workdir = workdir
        self.prefix = prefix
        self.by_key: dict[str, Database] = {}

    def resolve(self, database: str, uri: bool) -> Target:
        """Where a user's ``sqlite3.connect(database, uri=uri)`` goes in this schedule."""
        if database.startswith("file:") and (uri or _build_uses_uri()):
            return self._resolve_uri(database[5:])
        if database in (":memory:", ""):
            return Target(None, database, uri)
        db = self._file(database)
        assert db.path is not None
        if _in_process_vfs() is None:
            return Target(db, db.path, False)
        return Target(db, _private_uri(db.path, ""), True)

    def _resolve_uri(self, rest: str) -> Target:
        path, _, query = rest.partition("?")
        path, _, _ = path.partition("#")
        if path.startswith("//"):  # file://host/path: SQLite accepts "" and "localhost"
            authority, _, path = path[2:].partition("/")
            path = "/" + path
            if authority not in ("", "localhost"):
                return Target(None, "file:" + rest, True)  # SQLite rejects it itself
        path = unquote(path)
        options = dict(parse_qsl(query, keep_blank_values=True))
        mode = options.get("mode", "")
        if mode == "memory" or path == ":memory:":
            if options.get("cache") != "shared":
                return Target(None, "file:" + rest, True)  # private, as in SQLite
            key = f"memory:{path}"
            db = self.by_key.get(key)
            if db is None:
                db = self.by_key[key] = Database(key, path or ":memory:", None)
            unique = _UNSAFE.sub("_", f"harness-{os.path.basename(self.workdir)}-{self.prefix}")
            name = f"{unique}{_UNSAFE.sub('_', path) or 'memory'}"
            return Target(db, f"file:{name}?{query}", True)
        if path == "":
            return Target(None, "file:" + rest, True)  # a temporary database
        db = self._file(path, create=mode not in ("ro", "rw"))
        assert db.path is not None
        return Target(db, _private_uri(db.path, query), True)

    def _file(self, path: str, *, create: bool = True) -> Database:
        key, directory, exists, data, sidecars = _host_file(self.workdir, path, create)
        db = self.by_key.get(key)
        if db is not None:
            return db
        private = os.path.join(self.workdir, f"{self.prefix}{_private_name(key)}")
        if not directory or (not create and not exists):
            # the user's directory (or read-only file) does not exist: let SQLite fail itself
            private = os.path.join(self.workdir, "no-such-directory", os.path.basename(private))
        db = self.by_key[key] = Database(key, os.path.basename(key) or key, private)
        if data is not None:
            self._copy_in(db, data, sidecars)
        return db

    def _copy_in(self, db: Database, data: bytes, sidecars: tuple[tuple[str, bytes], ...]) -> None:
        """A host file that exists is this schedule's starting state (copied, never written)."""
        assert db.path is not None
        with open(db.path, "wb") as f:
            f.write(data)
        db.wal = len(data) > 18 and data[18] == 2  # header: file format 2 = WAL
        for suffix, extra in sidecars:
            with open(db.path + suffix, "wb") as f:
                f.write(extra)
            db.sidecars = True

    def remove_files(self) -> None:
        for db in self.by_key.values():
            if db.path is None:
                continue
            for suffix in ("", "-wal", "-shm", "-journal") if db.sidecars else ("",):
                try:
                    os.unlink(db.path + suffix)
                except FileNotFoundError:
                    pass
        self.by_key.clear()
