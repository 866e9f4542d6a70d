"""Replay tokens: a schedule as plain data, versioned and URL-safe.

Two formats are read; this version writes ``h2``.

``h2`` — *semantic* schedules (DESIGN §4). A schedule is the ``sim.random``
seed, the configuration (mode, fault budget, chaos, optional scenario label)
and its **deviations** from the default order, each recorded by *what* it
chose — "execute the 3rd statement of app.db#2", "deliver notification 2 to
sub:chat#1", "busy fault on app.db#1's 5th statement", "crash after that
COMMIT" — and *when*: after the ``event``-th semantic event of the run, at
the ``offer``-th choice point since then (exact on the Python that recorded
it) or before its ``turn``-th task step since then (used on another Python,
where asyncio may run a different number of internal callbacks between two
events). Every choice point that is not a deviation took the default. The
token also carries the harness version and the Python version that made it,
and a prefix of the run's semantic digest (see ``harness.trace``), so a
replay that runs differently says which of these changed.

``h1`` — the first format (harness 0.1): choices as indices among the
alternatives of each choice point, and a digest of the timeline's *wording*.
h1 tokens keep replaying: their choices are applied by index, their digest is
not compared (wording changes between releases), and where the Python
version changes the choice points a lenient replay is tried (see
``harness._explore``).

Invariants: ``decode_token(encode_token(s)) == s`` for every schedule; a token
that was cut, edited, carries unknown flags or comes from an unknown format
raises :class:`TokenError` with a one-line message.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import importlib.metadata
import sys
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from ._errors import TokenError
from .faults import Faults

FORMAT = 2
TOKEN_PREFIX = "h2."
FORMATS_READ = (1, 2)
_FLAG_PARALLEL = 1
_FLAG_FAULTS = 2
_FLAG_LABEL = 4
_FLAG_CHAOS = 8
_FLAG_ZLIB = 16
_KNOWN_FLAGS = _FLAG_PARALLEL | _FLAG_FAULTS | _FLAG_LABEL | _FLAG_CHAOS | _FLAG_ZLIB
_CHECK_BYTES = 3
_DIGEST_BYTES = 4
KINDS = ("exec", "deliver", "notify", "fault", "crash", "run")
FAULT_CODES = (None, "busy", "ioerror", "full", "exec", "deliver")
MAX_LENGTH = 100_000  # characters: a longer string is not a token


@dataclass(frozen=True)
class Deviation:
    """One non-default decision of a schedule, by meaning (see the module docstring)."""

    event: int  # semantic events of the run before it
    offer: int  # choice points since that event
    turn: int  # task steps started since that event
    kind: str  # one of KINDS
    target: str  # the connection, subscriber, pool or "loop" it acts on
    ordinal: int  # the n-th operation of that target (n-th notification to a subscriber)
    fault: str | None = None  # the fault kind; "exec"/"deliver" for a crash

    @property
    def key(self) -> tuple[str, str, int, str | None]:
        """What it chose, independent of when (as :func:`harness._alternatives.choice_key`)."""
        return (self.kind, self.target, self.ordinal, self.fault)

    def describe(self) -> str:
        what = {
            "exec": f"execute {self.target}'s statement {self.ordinal}",
            "deliver": f"deliver the result of {self.target}'s statement {self.ordinal}",
            "notify": f"deliver notification {self.ordinal} to {self.target}",
            "fault": f"{self.fault} fault on {self.target}'s statement {self.ordinal}",
            "crash": f"crash at {self.target}'s statement {self.ordinal} ({self.fault})",
            "run": f"run ready callback {self.ordinal} first",
        }[self.kind]
        return f"{what}, after event {self.event}"


def python_version() -> tuple[int, int]:
    return sys.version_info[0], sys.version_info[1]


@dataclass(frozen=True)
class Schedule:
    """Everything needed to replay one schedule (the payload of a token)."""

    seed: int
    choices: tuple[int, ...] = ()  # h1 only: the index taken at every choice point
    mode: str = "fifo"
    faults: Faults = field(default_factory=Faults)
    label: str = ""
    chaos: bool = False
    digest: str = ""  # hex prefix of the recorded trace digest ("" when unknown)
    steps: tuple[Deviation, ...] = ()  # h2: the deviations, in order
    format: int = FORMAT
    harness: tuple[int, int, int] = (0, 0, 0)  # the harness version that made it (h2)
    python: tuple[int, int] = (0, 0)  # the Python version that made it (h2; (0, 0) unknown)
    aiosqlite: tuple[int, int, int] = (0, 0, 0)  # the aiosqlite version it ran with (h2)
    sqlite: tuple[int, int, int] = (0, 0, 0)  # the SQLite library version it ran with (h2)
    anyio: tuple[int, int, int] = (0, 0, 0)  # the anyio version it ran with (h2)

    @property
    def deviations(self) -> int:
        if self.format == 1:
            return sum(1 for c in self.choices if c)
        return len(self.steps)

    @property
    def made_by(self) -> str:
        """``"harness 0.2.0 (format h2) on Python 3.11"``, as far as the token says."""
        if self.format == 1:
            return "harness 0.1 (format h1)"
        text = f"harness {'.'.join(map(str, self.harness))} (format h{self.format})"
        if self.python != (0, 0):
            text += f" on Python {self.python[0]}.{self.python[1]}"
        return text

    def differences(self) -> list[str]:
        """What in this process differs from where the token was made (h2)."""
        if self.format == 1:
            return []
        here = environment()
        found = []
        for name, recorded in (
            ("Python", self.python),
            ("aiosqlite", self.aiosqlite),
            ("SQLite", self.sqlite),
            ("anyio", self.anyio),
        ):
            now = here[name.lower()]
            if any(recorded) and tuple(recorded) != tuple(now[: len(recorded)]):
                found.append(
                    f"{name} {'.'.join(map(str, recorded))} where it was made, "
                    f"{'.'.join(map(str, now[: len(recorded)]))} here"
                )
        return found


def version_triple(text: str) -> tuple[int, int, int]:
    """``"0.22.1"`` -> ``(0, 22, 1)`` (non-numeric parts count as 0)."""
    parts = [*(int(p) if p.isdigit() else 0 for p in text.split(".")[:3]), 0, 0, 0]
    return parts[0], parts[1], parts[2]


def harness_version() -> tuple[int, int, int]:
    from . import __version__

    return version_triple(__version__)


@functools.cache
def _installed(distribution: str) -> tuple[int, int, int]:
    try:
        return version_triple(importlib.metadata.version(distribution))
    except importlib.metadata.PackageNotFoundError:
        return (0, 0, 0)


def environment() -> dict[str, tuple[int, ...]]:
    """The versions an h2 token records: Python, aiosqlite, SQLite and anyio."""
    import sqlite3

    from ._thirdparty.aiosqlite import version as aiosqlite_version

    loaded = aiosqlite_version()
    return {
        "python": python_version(),
        "aiosqlite": version_triple(loaded) if loaded else _installed("aiosqlite"),
        "sqlite": version_triple(sqlite3.sqlite_version),
        "anyio": _installed("anyio"),
    }


# ------------------------------------------------------------------ encoding
def _varint(n: int, out: bytearray) -> None:
    if n < 0:
        raise ValueError("varint must be non-negative")
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return


def _text(s: str, out: bytearray) -> None:
    raw = s.encode()
    _varint(len(raw), out)
    out += raw


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def varint(self) -> int:
        shift = result = 0
        while True:
            if self.pos >= len(self.data):
                raise TokenError("replay token is truncated")
            b = self.data[self.pos]
            self.pos += 1
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7
            if shift > 70:
                raise TokenError("replay token is corrupt (bad number)")

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise TokenError("replay token is truncated")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def text(self) -> str:
        try:
            return self.take(self.varint()).decode()
        except UnicodeDecodeError:
            raise TokenError("replay token is corrupt (text)") from None

    def done(self) -> bool:
        return self.pos == len(self.data)


def _encode_choices(choices: Sequence[int]) -> bytes:
    out = bytearray()
    nonzero = [(i, c) for i, c in enumerate(choices) if c]
    _varint(len(choices), out)
    _varint(len(nonzero), out)
    last = -1
    for i, c in nonzero:
        _varint(i - last - 1, out)
        _varint(c - 1, out)
        last = i
    return bytes(out)


def _decode_choices(r: _Reader) -> tuple[int, ...]:
    total = r.varint()
    count = r.varint()
    if total > 10_000_000 or count > total:
        raise TokenError("replay token is corrupt (impossible schedule length)")
    choices = [0] * total
    pos = -1
    for _ in range(count):
        pos += r.varint() + 1
        if pos >= total:
            raise TokenError("replay token is corrupt (choice beyond schedule end)")
        choices[pos] = r.varint() + 1
    return tuple(choices)


def _encode_steps(steps: Sequence[Deviation]) -> bytes:
    names: list[str] = []
    index: dict[str, int] = {}
    for d in steps:
        if d.target not in index:
            index[d.target] = len(names)
            names.append(d.target)
    out = bytearray()
    _varint(len(names), out)
    for name in names:
        _text(name, out)
    _varint(len(steps), out)
    last = 0
    for d in steps:
        if d.event < last:
            raise ValueError("deviations must be in event order")
        _varint(d.event - last, out)
        last = d.event
        _varint(d.offer, out)
        _varint(d.turn, out)
        out.append(KINDS.index(d.kind) * 8 + FAULT_CODES.index(d.fault))
        _varint(index[d.target], out)
        _varint(d.ordinal, out)
    return bytes(out)


def _decode_steps(r: _Reader) -> tuple[Deviation, ...]:
    count = r.varint()
    if count > 100_000:
        raise TokenError("replay token is corrupt (too many names)")
    names = [r.text() for _ in range(count)]
    total = r.varint()
    if total > 1_000_000:
        raise TokenError("replay token is corrupt (too many deviations)")
    steps = []
    event = 0
    for _ in range(total):
        event += r.varint()
        offer = r.varint()
        turn = r.varint()
        code = r.take(1)[0]
        kind, fault = code // 8, code % 8
        if kind >= len(KINDS) or fault >= len(FAULT_CODES):
            raise TokenError("replay token is corrupt (unknown decision kind)")
        target = r.varint()
        if target >= len(names):
            raise TokenError("replay token is corrupt (unknown target)")
        steps.append(
            Deviation(
                event, offer, turn, KINDS[kind], names[target], r.varint(), FAULT_CODES[fault]
            )
        )
    return tuple(steps)


def encode_token(s: Schedule) -> str:
    """Encode a schedule: ``h2.<base64url>`` (``h1.`` for a format-1 schedule)."""
    flags = 0
    body = bytearray()
    if s.format == 2:
        for n in (*s.harness, *s.python, *s.aiosqlite, *s.sqlite, *s.anyio):
            _varint(n, body)
    _varint(s.seed, body)
    if s.mode == "parallel":
        flags |= _FLAG_PARALLEL
    elif s.mode != "fifo":
        raise ValueError(f"unknown mode {s.mode!r}")
    if s.faults:
        flags |= _FLAG_FAULTS
        for n in (s.faults.busy, s.faults.ioerror, s.faults.full, s.faults.crash):
            _varint(n, body)
    if s.label:
        flags |= _FLAG_LABEL
        _text(s.label, body)
    if s.chaos:
        flags |= _FLAG_CHAOS
    inner = _encode_steps(s.steps) if s.format == 2 else _encode_choices(s.choices)
    packed = zlib.compress(inner, 9)
    if len(packed) + 1 < len(inner):
        flags |= _FLAG_ZLIB
        _varint(len(packed), body)
        body += packed
    else:
        body += inner
    digest = bytes.fromhex(s.digest[: _DIGEST_BYTES * 2]) if s.digest else b""
    body += digest.ljust(_DIGEST_BYTES, b"\0")
    payload = bytes([flags]) + bytes(body)
    check = hashlib.blake2b(payload, digest_size=_CHECK_BYTES).digest()
    prefix = TOKEN_PREFIX if s.format == 2 else "h1."
    return prefix + base64.urlsafe_b64encode(payload + check).decode().rstrip("=")


def decode_token(token: object) -> Schedule:
    """Decode a token; raise :class:`TokenError` (one line) if it is not a valid one."""
    if not isinstance(token, str):
        raise TokenError(f"replay token must be a string, not {type(token).__name__}")
    token = token.strip()
    if len(token) > MAX_LENGTH:
        raise TokenError(f"not a harness replay token (it is {len(token):,} characters long)")
    version, dot, data = token.partition(".")
    if not dot or not version.startswith("h") or not version[1:].isdigit():
        raise TokenError(f"not a harness replay token: {token[:40]!r}")
    number = int(version[1:])
    if number not in FORMATS_READ:
        from . import __version__

        raise TokenError(
            f"replay token of format {version} (from a newer harness); this is harness "
            f"{__version__}, which reads {', '.join(f'h{n}' for n in FORMATS_READ)}: upgrade "
            "harness, or re-run explore"
        )
    try:
        raw = base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))
    except (binascii.Error, ValueError):
        raise TokenError("replay token is corrupt (not base64url)") from None
    if base64.urlsafe_b64encode(raw).decode().rstrip("=") != data:
        raise TokenError("replay token is corrupt (not canonical base64url)")
    if len(raw) < 1 + _DIGEST_BYTES + _CHECK_BYTES:
        raise TokenError("replay token is truncated")
    payload, check = raw[:-_CHECK_BYTES], raw[-_CHECK_BYTES:]
    if hashlib.blake2b(payload, digest_size=_CHECK_BYTES).digest() != check:
        raise TokenError("replay token is corrupt (checksum mismatch)")
    flags = payload[0]
    if flags & ~_KNOWN_FLAGS:
        raise TokenError(f"replay token is corrupt (unknown flags {flags & ~_KNOWN_FLAGS:#x})")
    r = _Reader(payload[1:])
    made_with: tuple[int, int, int] = (0, 1, 0)
    python: tuple[int, int] = (0, 0)
    aiosqlite = sqlite = anyio = (0, 0, 0)
    if number == 2:
        made_with = (r.varint(), r.varint(), r.varint())
        python = (r.varint(), r.varint())
        aiosqlite = (r.varint(), r.varint(), r.varint())
        sqlite = (r.varint(), r.varint(), r.varint())
        anyio = (r.varint(), r.varint(), r.varint())
    seed = r.varint()
    mode = "parallel" if flags & _FLAG_PARALLEL else "fifo"
    faults = Faults()
    if flags & _FLAG_FAULTS:
        faults = Faults(busy=r.varint(), ioerror=r.varint(), full=r.varint(), crash=r.varint())
    label = r.text() if flags & _FLAG_LABEL else ""
    if flags & _FLAG_ZLIB:
        try:
            inner = _Reader(zlib.decompress(r.take(r.varint())))
        except zlib.error:
            raise TokenError("replay token is corrupt (choices)") from None
    else:
        inner = r
    choices: tuple[int, ...] = ()
    steps: tuple[Deviation, ...] = ()
    if number == 1:
        choices = _decode_choices(inner)
    else:
        steps = _decode_steps(inner)
    if inner is not r and not inner.done():
        raise TokenError("replay token is corrupt (trailing data)")
    digest = r.take(_DIGEST_BYTES).hex()
    if not r.done():
        raise TokenError("replay token is corrupt (trailing data)")
    return Schedule(
        seed=seed,
        choices=choices,
        mode=mode,
        faults=faults,
        label=label,
        chaos=bool(flags & _FLAG_CHAOS),
        digest="" if digest == "0" * (_DIGEST_BYTES * 2) else digest,
        steps=steps,
        format=number,
        harness=made_with,
        python=python,
        aiosqlite=aiosqlite,
        sqlite=sqlite,
        anyio=anyio,
    )
