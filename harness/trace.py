"""Events, the timeline, the trace digest and replay tokens.

A schedule is fully described by plain data: the ``sim.random`` seed, the
configuration (mode, fault budget, optional scenario label) and the list of
choices taken at choice points. A *token* is that data, versioned and encoded
URL-safe: ``h1.<base64url>``. The events recorded while the schedule runs
give the *timeline* (for people) and the *trace digest* (for machines).

Invariants:

* the digest depends only on what happened (event kinds, actors, SQL text,
  outcomes, virtual times, choices) — never on object ids, wall-clock time or
  ``PYTHONHASHSEED``, so it is equal across processes;
* ``decode_token(encode_token(p)) == p`` for every payload; a token that was
  cut, edited or comes from an unknown version raises :class:`TokenError`
  with a one-line message.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from ._errors import TokenError
from .faults import Faults

TOKEN_PREFIX = "h1."
_FLAG_PARALLEL = 1
_FLAG_FAULTS = 2
_FLAG_LABEL = 4
_FLAG_CHAOS = 8
_FLAG_ZLIB = 16
_CHECK_BYTES = 3
_DIGEST_BYTES = 4


class Event:
    """One line of the timeline.

    ``kind`` is one of: ``spawn`` (task created), ``submit`` (operation queued),
    ``exec`` (operation ran on SQLite), ``block`` (waiting for a lock),
    ``wake``, ``deliver`` (result reached the loop), ``notify`` (sent),
    ``recv`` (delivered to a subscriber), ``advance`` (virtual time jumped),
    ``fault``, ``crash``, ``recover``, ``end``.
    """

    __slots__ = ("_text", "actor", "deviation", "kind", "time")

    def __init__(
        self,
        time: float,
        actor: str,
        kind: str,
        text: str | Callable[[], str],
        deviation: bool = False,
    ) -> None:
        self.time = time
        self.actor = actor
        self.kind = kind
        self._text = text  # formatted on first use: most schedules are never printed
        self.deviation = deviation

    @property
    def text(self) -> str:
        text = self._text
        if not isinstance(text, str):
            text = self._text = text()
        return text

    def key(self) -> str:
        """The canonical form hashed into the digest."""
        return f"{self.time!r}|{self.actor}|{self.kind}|{self.text}|{int(self.deviation)}"

    def __repr__(self) -> str:
        return f"Event({self.time!r}, {self.actor!r}, {self.kind!r}, {self.text!r})"


DEVIATION_MARK = "  <-- deviation"


def format_timeline(events: Sequence[Event], *, only: Iterable[int] | None = None) -> str:
    """Render events one per line: step, virtual time, actor, event, detail.

    ``only`` restricts output to those 0-based event indices (``...`` marks gaps).
    """
    width = max((len(e.actor) for e in events), default=5)
    width = min(max(width, 5), 22)
    lines = []
    keep = None if only is None else sorted(set(only))
    indices: Iterable[int] = range(len(events)) if keep is None else keep
    previous = -1
    for i in indices:
        if keep is not None and i != previous + 1:
            lines.append("   ...")
        previous = i
        e = events[i]
        actor = e.actor if len(e.actor) <= width else e.actor[: width - 1] + "~"
        mark = DEVIATION_MARK if e.deviation else ""
        lines.append(f"{i + 1:>5}  {e.time:>9.3f}s  {actor:<{width}}  {e.kind:<7}  {e.text}{mark}")
    if keep is not None and keep and previous != len(events) - 1:
        lines.append("   ...")
    header = f"{'step':>5}  {'time':>10}  {'actor':<{width}}  {'event':<7}  detail"
    return "\n".join([header, *lines])


def digest_of(events: Sequence[Event], decisions: Sequence[tuple[int, int]]) -> str:
    """A stable hex digest of a run (see the module invariants)."""
    h = hashlib.blake2b(digest_size=16)
    for e in events:
        h.update(e.key().encode("utf-8", "backslashreplace"))
        h.update(b"\n")
    h.update(repr(list(decisions)).encode())
    return h.hexdigest()


@dataclass(frozen=True)
class Schedule:
    """Everything needed to replay one schedule (the payload of a token)."""

    seed: int
    choices: tuple[int, ...]
    mode: str = "fifo"
    faults: Faults = field(default_factory=Faults)
    label: str = ""
    chaos: bool = False
    digest: str = ""  # hex prefix of the recorded trace digest ("" when unknown)

    @property
    def deviations(self) -> int:
        return sum(1 for c in self.choices if c)


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
        if self.pos + n > len(self.data):
            raise TokenError("replay token is truncated")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk


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


def encode_token(s: Schedule) -> str:
    """Encode a schedule as ``h1.<base64url>`` (no padding, no spaces)."""
    flags = 0
    body = bytearray()
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
        raw = s.label.encode()
        _varint(len(raw), body)
        body += raw
    if s.chaos:
        flags |= _FLAG_CHAOS
    choices = _encode_choices(s.choices)
    packed = zlib.compress(choices, 9)
    if len(packed) + 1 < len(choices):
        flags |= _FLAG_ZLIB
        _varint(len(packed), body)
        body += packed
    else:
        body += choices
    digest = bytes.fromhex(s.digest[: _DIGEST_BYTES * 2]) if s.digest else b""
    body += digest.ljust(_DIGEST_BYTES, b"\0")
    payload = bytes([flags]) + bytes(body)
    check = hashlib.blake2b(payload, digest_size=_CHECK_BYTES).digest()
    return TOKEN_PREFIX + base64.urlsafe_b64encode(payload + check).decode().rstrip("=")


def decode_token(token: object) -> Schedule:
    """Decode a token; raise :class:`TokenError` (one line) if it is not a valid one."""
    if not isinstance(token, str):
        raise TokenError(f"replay token must be a string, not {type(token).__name__}")
    token = token.strip()
    if not token.startswith("h") or "." not in token:
        raise TokenError(f"not a harness replay token: {token[:40]!r}")
    version, _, data = token.partition(".")
    if version + "." != TOKEN_PREFIX:
        raise TokenError(f"unsupported replay token version {version!r} (this harness reads h1)")
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
    r = _Reader(payload[1:])
    seed = r.varint()
    mode = "parallel" if flags & _FLAG_PARALLEL else "fifo"
    faults = Faults()
    if flags & _FLAG_FAULTS:
        faults = Faults(busy=r.varint(), ioerror=r.varint(), full=r.varint(), crash=r.varint())
    label = ""
    if flags & _FLAG_LABEL:
        try:
            label = r.take(r.varint()).decode()
        except UnicodeDecodeError:
            raise TokenError("replay token is corrupt (label)") from None
    if flags & _FLAG_ZLIB:
        try:
            inner = zlib.decompress(r.take(r.varint()))
        except zlib.error:
            raise TokenError("replay token is corrupt (choices)") from None
        choices = _decode_choices(_Reader(inner))
    else:
        choices = _decode_choices(r)
    digest = r.take(_DIGEST_BYTES).hex()
    if r.pos != len(r.data):
        raise TokenError("replay token is corrupt (trailing data)")
    return Schedule(
        seed=seed,
        choices=choices,
        mode=mode,
        faults=faults,
        label=label,
        chaos=bool(flags & _FLAG_CHAOS),
        digest="" if digest == "0" * (_DIGEST_BYTES * 2) else digest,
    )


def short(text: str, limit: int) -> str:
    """Collapse whitespace and cut ``text`` to ``limit`` characters (``…`` marks a cut)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
