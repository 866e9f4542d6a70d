"""The failure report: scenario, lanes, the shortest contradiction, and how to replay.

Layout (every section is plain text, stable across runs)::

    <headline>
    scenario:            the calls each actor made (parses back: Scenario.parse)
    history:             the lanes (see lanes.py), contradiction operations tagged [A], [B], …
    contradiction:       the tagged operations, real-time order among them, and each
                         order real time allows with the model's first disagreement
    replay:              added by the runner once the schedule's token is known
"""

from __future__ import annotations

import string
from collections.abc import Callable
from typing import Any

from .checker import UNKNOWN, Verdict
from .explain import MAX_ORDERS, Contradiction, shortest
from .history import History
from .lanes import draw
from .scenario import Scenario

SHOWN_ORDERS = 6


def tag_names(count: int) -> list[str]:
    letters = string.ascii_uppercase
    return [letters[i] if i < 26 else f"{letters[i % 26]}{i // 26}" for i in range(count)]


def headline(contradiction: Contradiction | None, name: str) -> str:
    if contradiction is not None and contradiction.spans_crash:
        return (
            f"durability violation in {name}: what the store acknowledged before a crash "
            "is not what it shows after recovery"
        )
    return f"linearizability violation in {name}: no order of the operations agrees with the model"


def contradiction_text(c: Contradiction, tags: dict[int, str]) -> str:
    names = [
        f"crash {it.crash.number}" if it.crash is not None else tags[it.entry.id]  # type: ignore[union-attr]
        for it in c.items
    ]
    core = [
        n
        for n, it, extra in zip(names, c.items, c.context, strict=True)
        if it.entry is not None and not extra
    ]
    which = ", ".join(core[:-1]) + f" and {core[-1]}" if len(core) > 1 else core[0]
    verb = "cannot all be right" if len(core) > 2 else "cannot both be right"
    if len(core) == 1:
        verb = "cannot be right"
    shown = sum(c.context)
    also = f"; {shown} of them shown for context" if shown else ""
    lines = [
        f"shortest contradiction: {which} {verb}, whatever the other {c.relaxed} "
        f"operation(s) did, or whether they happened at all{also}:"
    ]
    for it, name, extra in zip(c.items, names, c.context, strict=True):
        if it.crash is not None:
            lines.append(f"  {name} (#{it.crash.position + 1})")
            continue
        e = it.entry
        assert e is not None
        span = f"#{e.invoked + 1}" + (f"-{e.finished + 1}" if e.finished is not None else "")
        note = "   (context)" if extra else ""
        if it.kind == UNKNOWN:
            note = "   (context: it may or may not have taken effect)"
        lines.append(f"  [{name}] {e.actor}: {e.call} {e.outcome()}   {span}{note}")
    if c.precedes:
        pairs = [f"{names[a]} before {names[b]}" for a, b in c.precedes]
        lines.append("  real time forces: " + "; ".join(pairs))
    elif len(c.items) > 1:
        lines.append("  real time forces nothing: they all overlap")
    more = "at least " if c.orders >= MAX_ORDERS else ""
    lines.append(f"  each of the {more}{c.orders} order(s) real time allows fails:")
    unknown = [i for i, it in enumerate(c.items) if it.kind == UNKNOWN]
    for failed in c.failed[:SHOWN_ORDERS]:
        order = " ".join(names[i] for i in failed.order) or "(nothing)"
        missing = [names[i] for i in unknown if i not in failed.order]
        if missing:
            order += f" (without {', '.join(missing)})"
        culprit = failed.order[failed.at]
        e = c.items[culprit].entry
        assert e is not None
        lines.append(
            f"    {order}:  {names[culprit]} {e.call} {e.outcome()}, "
            f"but the model {failed.expected} there"
        )
    if len(c.failed) > SHOWN_ORDERS:
        lines.append(f"    … and {len(c.failed) - SHOWN_ORDERS} more")
    return "\n".join(lines)


def failure_text(
    verdict: Verdict,
    model: Callable[[], Any],
    *,
    name: str = "store",
    scenario: Scenario | None = None,
) -> tuple[str, Contradiction | None]:
    """The report for a failed verdict (without the replay lines), and its contradiction."""
    history: History = verdict.history
    contradiction = shortest(verdict.part, model) if verdict.part is not None else None
    tags: dict[int, str] = {}
    if contradiction is not None:
        tags = dict(
            zip(
                (e.id for e in contradiction.entries),
                tag_names(len(contradiction.entries)),
                strict=True,
            )
        )
    parts = [headline(contradiction, name)]
    if verdict.parts > 1 and verdict.part is not None:
        parts[0] += f" (independent part {verdict.part.key!r}, one of {verdict.parts})"
    if scenario is not None:
        parts.append("scenario:\n" + _indent(str(scenario)))
    parts.append(
        "history (one lane per actor; # is the order in which things happened):\n"
        + _indent(draw(history, tags))
    )
    if contradiction is not None:
        parts.append(contradiction_text(contradiction, tags))
    elif verdict.undecided:
        parts.append(f"the checker gave up after {verdict.nodes} search nodes (undecided)")
    return "\n\n".join(parts), contradiction


def _indent(text: str) -> str:
    return "\n".join("  " + line if line else line for line in text.splitlines())
