"""Events, the timeline and the trace digest.

The events recorded while a schedule runs give the *timeline* (for people)
and the *trace digest* (for machines). Each event has human text (the
timeline's wording, free to change between releases) and, when it is a
*semantic* event, a tuple of fields — what happened, in plain values:
actors, SQL and parameters, outcomes, virtual time. Only those fields are
hashed into the digest (:func:`digest_of`), so rewording the timeline never
changes a digest, and a digest is equal across processes, ``PYTHONHASHSEED``
and the Python versions harness supports whenever the body does the same
thing. Replay tokens (the schedule as data) live in :mod:`harness.tokens`;
their names are re-exported here.

Invariants:

* the digest depends only on semantic fields and virtual times — never on
  object ids, memory addresses, thread ids, wall-clock time or hash order
  (:func:`scrub` removes addresses and thread ids from any text it includes);
* the timeline text of an event is a function of the run alone, so a replay
  prints the same timeline in every process.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Sequence

from .tokens import FORMAT as FORMAT
from .tokens import TOKEN_PREFIX as TOKEN_PREFIX
from .tokens import Deviation as Deviation
from .tokens import Schedule as Schedule
from .tokens import decode_token as decode_token
from .tokens import encode_token as encode_token

Fields = tuple[object, ...]
_ADDRESS = re.compile(r"0x[0-9a-fA-F]+")
_THREAD = re.compile(r"thread id \d+")


def scrub(text: str) -> str:
    """Remove what differs between processes (addresses, thread ids) from ``text``."""
    if "0x" in text:
        text = _ADDRESS.sub("0x?", text)
    if "thread id" in text:
        text = _THREAD.sub("thread id ?", text)
    return text


RawEvent = tuple[
    float, str, str, "str | Callable[[], str]", bool, "Fields | Callable[[], Fields] | None"
]
"""An event as a schedule records it: ``Event(*raw)``'s arguments (see :func:`events_of`)."""


class Event:
    """One line of the timeline.

    ``kind`` is one of: ``spawn`` (task created), ``submit`` (operation queued),
    ``exec`` (operation ran on SQLite), ``block`` (waiting for a lock),
    ``wake``, ``deliver`` (result reached the loop), ``notify`` (sent),
    ``recv`` (delivered to a subscriber), ``advance`` (virtual time jumped),
    ``fault``, ``crash``, ``recover``, ``end``.
    """

    __slots__ = ("_fields", "_text", "actor", "deviation", "kind", "time")

    def __init__(
        self,
        time: float,
        actor: str,
        kind: str,
        text: str | Callable[[], str],
        deviation: bool = False,
        fields: Fields | Callable[[], Fields] | None = None,
    ) -> None:
        self.time = time
        self.actor = actor
        self.kind = kind
        self._text = text  # formatted on first use: most schedules are never printed
        self.deviation = deviation
        self._fields = fields  # None: for people only (not hashed, not an anchor); lazy

    @property
    def text(self) -> str:
        text = self._text
        if not isinstance(text, str):
            text = self._text = text()
        return text

    @property
    def fields(self) -> Fields | None:
        """What happened, as plain values (computed on first use, like the text)."""
        fields = self._fields
        if fields is not None and not isinstance(fields, tuple):
            fields = self._fields = fields()
        return fields

    @property
    def semantic(self) -> bool:
        return self._fields is not None

    def key(self) -> str:
        """The canonical form hashed into the digest ("" for an event for people only)."""
        if self.fields is None:
            return ""
        return repr((self.time, self.actor, self.kind, *self.fields))

    def __repr__(self) -> str:
        return f"Event({self.time!r}, {self.actor!r}, {self.kind!r}, {self.text!r})"


def events_of(raw: Sequence[RawEvent]) -> list[Event]:
    """The timeline of recorded events (a schedule records tuples: most are never read)."""
    return [Event(*e) for e in raw]


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


def digest_of(events: Sequence[Event]) -> str:
    """A stable hex digest of a run's semantic events (see the module invariants)."""
    h = hashlib.blake2b(digest_size=16)
    for e in events:
        if e.fields is not None:
            h.update(e.key().encode("utf-8", "backslashreplace"))
            h.update(b"\n")
    return h.hexdigest()


def first_difference(a: Sequence[Event], b: Sequence[Event]) -> tuple[int, int]:
    """Indices (into ``a`` and ``b``) of the first semantic events that differ."""
    sa = [i for i, e in enumerate(a) if e.fields is not None]
    sb = [i for i, e in enumerate(b) if e.fields is not None]
    for n in range(min(len(sa), len(sb))):
        if a[sa[n]].key() != b[sb[n]].key():
            return sa[n], sb[n]
    n = min(len(sa), len(sb))
    return (sa[n] if n < len(sa) else len(a)), (sb[n] if n < len(sb) else len(b))


def short(text: str, limit: int) -> str:
    """Collapse whitespace and cut ``text`` to ``limit`` characters (``…`` marks a cut)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
