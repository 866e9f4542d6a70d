"""A history drawn for people: one lane per actor, time flowing down.

::

     #  time    main                 actor 1               actor 2
     1  0.000s  put('a', 1) -> None
     2  0.000s                       ┌ [A] put('a', 2)
     3  0.000s                       │                     ┌ [B] get('a')
     4  0.000s                       └ -> None             │
     5  0.000s                                             └ -> 1
     ── crash 1: the process dies; in flight: incr('a') ──

Each row is one event of the history (``#`` is its position, 1-based); an
operation whose return immediately follows its invocation takes one row.
``┌``/``└`` mark invocation and return, ``│`` an operation in progress; ``?``
an unknown outcome. Operations of the contradiction carry their tag
(``[A]``). Invariant: a pure function of the history and the tags.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .history import Entry, History
from .scenario import MAIN

WIDTH = 44  # widest lane cell before it is cut short
CALL_WIDTH = 26  # in a one-row operation, the call gives way to the outcome beyond this


def _cut(text: str, width: int = WIDTH) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _tagged(entry: Entry, tags: Mapping[int, str]) -> str:
    tag = tags.get(entry.id)
    return f"[{tag}] {entry.call}" if tag else str(entry.call)


def _one_row(entry: Entry, tags: Mapping[int, str]) -> str:
    call, outcome = _tagged(entry, tags), entry.outcome()
    if len(call) + 1 + len(outcome) <= WIDTH:
        return f"{call} {outcome}"
    call = _cut(call, max(CALL_WIDTH, WIDTH - 1 - len(outcome)))
    return _cut(f"{call} {outcome}")


Row = tuple[str, str, list[str]] | str  # (number, time, one cell per lane), or a crash line


def _cells(history: History, tags: Mapping[int, str]) -> dict[int, tuple[str, str, Entry]]:
    """What each event position shows: (kind, text, entry)."""
    cells: dict[int, tuple[str, str, Entry]] = {}
    for e in history.entries:
        if e.finished is not None and e.finished == e.invoked + 1:  # one row for the two
            cells[e.invoked] = ("one", _one_row(e, tags), e)
            cells[e.invoked + 1] = ("skip", "", e)
            continue
        cells[e.invoked] = ("invoke", f"┌ {_tagged(e, tags)}", e)
        if e.finished is not None:
            cells[e.finished] = ("return", f"└ {e.outcome()}", e)
    return cells


def _rows(history: History, tags: Mapping[int, str], lanes: list[str]) -> list[Row]:
    cells = _cells(history, tags)
    crash_at = {c.position: c for c in history.crashes}
    by_id = {e.id: e for e in history.entries}
    rows: list[Row] = []
    running: set[str] = set()
    for position in range(history.length):
        if position in crash_at:
            c = crash_at[position]
            cut = ", ".join(_tagged(by_id[i], tags) for i in c.in_flight) or "nothing"
            rows.append(
                f"── crash {c.number} at {c.time:.3f}s: the process dies (in flight: {cut}); "
                "the store is reopened on the same files ──"
            )
            running.clear()
            continue
        if position not in cells or cells[position][0] == "skip":
            continue
        kind, text, entry = cells[position]
        line = ["│" if actor in running else "" for actor in lanes]
        line[lanes.index(entry.actor)] = _cut(text)
        if kind == "invoke":
            running.add(entry.actor)
        elif kind == "return":
            running.discard(entry.actor)
        t = entry.t_invoked if kind in ("invoke", "one") else (entry.t_finished or 0.0)
        rows.append((str(position + 1), f"{t:.3f}s", line))
    return rows


def draw(history: History, tags: Mapping[int, str] | None = None) -> str:
    """The lanes of ``history`` (see the module docstring)."""
    lanes = sorted(history.actors, key=lambda actor: actor != MAIN)  # main first, then actors
    rows = _rows(history, tags or {}, lanes)
    table = [r for r in rows if isinstance(r, tuple)]
    widths = [max([len(actor)] + [len(r[2][i]) for r in table]) for i, actor in enumerate(lanes)]
    number_width = max([len(r[0]) for r in table] + [1])
    time_width = max([len(r[1]) for r in table] + [4])

    def line(number: str, when: str, cells: Sequence[str]) -> str:
        text = f"{number:>{number_width}}  {when:<{time_width}}  " + "  ".join(
            f"{cell:<{w}}" for cell, w in zip(cells, widths, strict=True)
        )
        return text.rstrip()

    out = [line("#", "time", lanes)]
    out += [row if isinstance(row, str) else line(*row) for row in rows]
    return "\n".join(out)
